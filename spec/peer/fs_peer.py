"""The Flask-Security app every peer script builds (Debian's
python3-flask-security 5.1.2, fsqla_v3 models, SQLite), written once.
The scripts next to this file import it: fs_play.py (the answers the
side-by-side specs compare: spec/33-*, spec/39-*, through
spec/tools/compare.lua), fs_hashes.py (the hashes of
spec/04-flask_security_hashes_spec.lua) and fs_make_db.py (the databases
spec/50-cli_spec.lua imports). spec/tools/peer.lua starts them.
"""
from flask import Flask
from flask_security import Security, SQLAlchemyUserDatastore
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy


def make_app(settings, db_uri="sqlite://", before_security=None, **security_args):
    """A Flask app with Flask-Security on db_uri; settings go over the
    defaults; before_security(app), when given, runs before Security is
    set up (Flask-WTF's CSRFProtect must, for CSRF_IGNORE_UNAUTH_ENDPOINTS).
    Returns (app, db, datastore); each call has its own models."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x" * 32, SQLALCHEMY_DATABASE_URI=db_uri,
                      SQLALCHEMY_TRACK_MODIFICATIONS=False)
    app.config.update(settings)
    if before_security:
        before_security(app)
    db = SQLAlchemy(app)
    fsqla.FsModels.set_db_info(db)

    class Role(db.Model, fsqla.FsRoleMixin):
        pass

    class User(db.Model, fsqla.FsUserMixin):
        pass

    ds = SQLAlchemyUserDatastore(db, User, Role)
    Security(app, ds, **security_args)
    return app, db, ds
