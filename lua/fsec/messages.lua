--- Flask-Security-Too's message catalogue (SECURITY_MSG_*): the texts its
-- JSON API and pages show, by key, with `%(name)s` placeholders. Override
-- any of them with `messages = { KEY = "text" }` in `fsec.new`.
-- @module fsec.messages

local type = type
local tostring = tostring


local _M = { _VERSION = "0.1.0" }

_M.DEFAULT = {
  API_ERROR = "Input not appropriate for requested API",
  GENERIC_AUTHN_FAILED = "Authentication failed - identity or password/passcode invalid",
  GENERIC_RECOVERY = "If that email address is in our system, you will receive an email describing how to reset " ..
      "your password.",
  UNAUTHORIZED = "You do not have permission to view this resource.",
  UNAUTHENTICATED = "You must sign in to view this resource.",
  REAUTHENTICATION_REQUIRED = "You must reauthenticate to access this endpoint",
  CONFIRM_REGISTRATION = "Thank you. To confirm your email address %(email)s, please click on the link in the " ..
      "email we have just sent to you.",
  EMAIL_CONFIRMED = "Thank you. Your email has been confirmed.",
  ALREADY_CONFIRMED = "Your email has already been confirmed.",
  INVALID_CONFIRMATION_TOKEN = "Invalid confirmation token.",
  EMAIL_ALREADY_ASSOCIATED = "%(email)s is already associated with an account.",
  IDENTITY_ALREADY_ASSOCIATED = "Identity attribute '%(attr)s' with value '%(value)s' is already associated with " ..
      "an account.",
  IDENTITY_NOT_REGISTERED = "Identity %(id)s not registered",
  PASSWORD_MISMATCH = "Password does not match",
  RETYPE_PASSWORD_MISMATCH = "Passwords do not match",
  INVALID_REDIRECT = "Redirections outside the domain are forbidden",
  PASSWORD_RESET_REQUEST = "Instructions to reset your password have been sent to %(email)s.",
  PASSWORD_RESET_EXPIRED = "You did not reset your password within %(within)s. New instructions have been sent to " ..
      "%(email)s.",
  INVALID_RESET_PASSWORD_TOKEN = "Invalid reset password token.",
  CONFIRMATION_REQUIRED = "Email requires confirmation.",
  CONFIRMATION_REQUEST = "Confirmation instructions have been sent to %(email)s.",
  CONFIRMATION_EXPIRED = "You did not confirm your email within %(within)s. New instructions to confirm your " ..
      "email have been sent to %(email)s.",
  LOGIN_EXPIRED = "You did not login within %(within)s. New instructions to login have been sent to %(email)s.",
  LOGIN_EMAIL_SENT = "Instructions to login have been sent to %(email)s.",
  INVALID_LOGIN_TOKEN = "Invalid login token.",
  DISABLED_ACCOUNT = "Account is disabled.",
  EMAIL_NOT_PROVIDED = "Email not provided",
  INVALID_EMAIL_ADDRESS = "Invalid email address",
  INVALID_CODE = "Invalid code",
  PASSWORD_NOT_PROVIDED = "Password not provided",
  PASSWORD_INVALID_LENGTH = "Password must be at least %(length)s characters",
  PASSWORD_TOO_SIMPLE = "Password not complex enough",
  PASSWORD_BREACHED = "Password on breached list",
  PASSWORD_BREACHED_SITE_ERROR = "Failed to contact breached passwords site",
  USER_DOES_NOT_EXIST = "Specified user does not exist",
  INVALID_PASSWORD = "Invalid password",
  INVALID_PASSWORD_CODE = "Password or code submitted is not valid",
  PASSWORDLESS_LOGIN_SUCCESSFUL = "You have successfully logged in.",
  FORGOT_PASSWORD = "Forgot password?",
  PASSWORD_RESET = "You successfully reset your password and you have been logged in automatically.",
  PASSWORD_RESET_NO_LOGIN = "You successfully reset your password. Please authenticate using your new password.",
  PASSWORD_IS_THE_SAME = "Your new password must be different than your previous password.",
  PASSWORD_CHANGE = "You successfully changed your password.",
  LOGIN = "Please log in to access this page.",
  REFRESH = "Please reauthenticate to access this page.",
  REAUTHENTICATION_SUCCESSFUL = "Reauthentication successful",
  ANONYMOUS_USER_REQUIRED = "You can only access this endpoint when not logged in.",
  USERNAME_INVALID_LENGTH = "Username must be at least %(min)d characters and less than %(max)d characters",
  USERNAME_ILLEGAL_CHARACTERS = "Username contains illegal characters",
  USERNAME_DISALLOWED_CHARACTERS = "Username can contain only letters and numbers",
  USERNAME_NOT_PROVIDED = "Username not provided",
  USERNAME_ALREADY_ASSOCIATED = "%(username)s is already associated with an account.",
  -- multi-factor (Flask-Security-Too 5.1's texts)
  TWO_FACTOR_INVALID_TOKEN = "Invalid code",
  TWO_FACTOR_LOGIN_SUCCESSFUL = "Your code has been confirmed",
  TWO_FACTOR_CHANGE_METHOD_SUCCESSFUL = "You successfully changed your two-factor method.",
  TWO_FACTOR_PERMISSION_DENIED = "You currently do not have permissions to access this page",
  TWO_FACTOR_METHOD_NOT_AVAILABLE = "Marked method is not valid",
  TWO_FACTOR_DISABLED = "You successfully disabled two factor authorization.",
  TWO_FACTOR_SETUP_EXPIRED = "Setup must be completed within %(within)s. Please start over.",
  PHONE_INVALID = "Phone number not valid e.g. missing country code",
  INVALID_RECOVERY_CODE = "Recovery code invalid",
  NO_RECOVERY_CODES_SETUP = "No recovery codes generated yet",
  CODE_HAS_BEEN_SENT = "Code has been sent.",
  FAILED_TO_SEND_CODE = "Failed to send code. Please try again later",
  US_METHOD_NOT_AVAILABLE = "Requested method is not valid",
  US_SETUP_EXPIRED = "Setup must be completed within %(within)s. Please start over.",
  US_SETUP_SUCCESSFUL = "Unified sign in setup successful",
  US_SPECIFY_IDENTITY = "You must specify a valid identity to sign in",
  USE_CODE = "Use this code to sign in: %(code)s.",
  GENERIC_US_SIGNIN = "If that identity is in our system, you were sent a code.",
  -- WebAuthn (Flask-Security-Too 5.1's texts)
  WEBAUTHN_EXPIRED = "WebAuthn operation must be completed within %(within)s. Please start over.",
  WEBAUTHN_NAME_REQUIRED = "Nickname for new credential is required.",
  WEBAUTHN_NAME_INUSE = "%(name)s is already associated with a credential.",
  WEBAUTHN_NAME_NOT_FOUND = "%(name)s not registered with current user.",
  WEBAUTHN_CREDENTIAL_DELETED = "Successfully deleted WebAuthn credential with name: %(name)s",
  WEBAUTHN_REGISTER_SUCCESSFUL = "Successfully added WebAuthn credential with name: %(name)s",
  WEBAUTHN_CREDENTIAL_ID_INUSE = "WebAuthn credential id already registered.",
  WEBAUTHN_UNKNOWN_CREDENTIAL_ID = "Unregistered WebAuthn credential id.",
  WEBAUTHN_ORPHAN_CREDENTIAL_ID = "WebAuthn credential doesn't belong to any user.",
  WEBAUTHN_NO_VERIFY = "Could not verify WebAuthn credential: %(cause)s.",
  WEBAUTHN_CREDENTIAL_WRONG_USAGE = "Credential not registered for this use (first or secondary)",
  WEBAUTHN_MISMATCH_USER_HANDLE = "Credential user handle didn't match",
  -- account changes (Flask-Security-Too 5.5/5.6's texts)
  CHANGE_EMAIL_EXPIRED = "Confirmation must be completed within %(within)s. Please start over.",
  CHANGE_EMAIL_CONFIRMED = "Change of email address confirmed",
  CHANGE_EMAIL_SENT = "Instructions to confirm your new email address have been sent to %(email)s.",
  USERNAME_RECOVERY_REQUEST = "If registered, your username will be sent to your email.",
  USERNAME_CHANGE = "You successfully changed your username",
  FIELD_REQUIRED = "This field is required.",
  INVALID_CHOICE = "Not a valid choice.",
  -- fsec: register_fields (fsec.regfields), in WTForms' words
  FIELD_INVALID = "Invalid input.",
  FIELD_TOO_LONG = "Field cannot be longer than %(max)s characters.",
  FIELD_NOT_INTEGER = "Not a valid integer value.",
  FIELD_OUT_OF_RANGE = "Number must be between %(min)s and %(max)s.",
  FIELD_TOO_SMALL = "Number must be at least %(min)s.",
  FIELD_TOO_BIG = "Number must be at most %(max)s.",
  CSRF_MISSING = "The CSRF token is missing.",
  CSRF_INVALID = "The CSRF token is invalid.",
  CSRF_EXPIRED = "The CSRF token has expired.",
}


--- Fill `%(name)s` / `%(name)d` placeholders from vars.
function _M.format(text, vars)
  if not vars then return text end
  return (text:gsub("%%%((%w+)%)[sd]", function(k)
    local v = vars[k]
    if v == nil then return "%(" .. k .. ")s" end
    return tostring(v)
  end))
end


--- A lookup function over the defaults and the overrides.
function _M.catalogue(overrides)
  return function(key, vars)
    local text = overrides and overrides[key] or _M.DEFAULT[key]
    if type(text) ~= "string" then error("unknown message key '" .. tostring(key) .. "'", 2) end
    return _M.format(text, vars)
  end
end


return _M
