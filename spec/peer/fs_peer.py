"""The Flask-Security app every peer script builds (Debian's
python3-flask-security 5.1.2, fsqla_v3 models, SQLite), written once.
The scripts next to this file import it: fs_app.py (the answers
spec/33-flask_security_answers_spec.lua compares), fs_hashes.py (the
hashes of spec/04-flask_security_hashes_spec.lua) and fs_make_db.py (the
databases spec/50-cli_spec.lua imports), fs_creds.py (the tokens and cookies
spec/26-flask_credentials_peer_spec.lua checks). spec/tools/peer.lua starts them.
"""
from flask import Flask
from flask_security import Security, SQLAlchemyUserDatastore
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy


def make_app(settings, db_uri="sqlite://", token_uniquifier=False, **security_args):
    """A Flask app with Flask-Security on db_uri; settings go over the
    defaults. Returns (app, db, datastore); each call has its own models.
    token_uniquifier: the user model gets an fs_token_uniquifier column
    (fs_creds.py: tokens then name it instead of fs_uniquifier)."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x" * 32, SQLALCHEMY_DATABASE_URI=db_uri,
                      SQLALCHEMY_TRACK_MODIFICATIONS=False)
    app.config.update(settings)
    db = SQLAlchemy(app)
    fsqla.FsModels.set_db_info(db)

    class Role(db.Model, fsqla.FsRoleMixin):
        pass

    class User(db.Model, fsqla.FsUserMixin):
        if token_uniquifier:
            fs_token_uniquifier = db.Column(db.String(64), unique=True, nullable=False)

    ds = SQLAlchemyUserDatastore(db, User, Role)
    Security(app, ds, **security_args)
    return app, db, ds
