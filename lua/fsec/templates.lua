--- fsec's built-in templates, by Flask-Security's names (fsec.template
-- syntax: {{ escaped }}, {{{ raw }}}, {{# section }}, {{> partial }}).
-- Pages: security/*.html, drawn inside security/base.html (`content`);
-- partials start with "_". Mail: security/email/<kind>.txt and .html.
-- Every text a reader sees comes from `t` (the language's catalogue,
-- fsec.i18n) or from the page's view model (fsec.pages), so a template
-- holds markup only. docs/templates.md lists each one's context.
-- @module fsec.templates

local STYLE = [[
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}
input[type=email],input[type=password],input[type=text],input[type=tel],
input[type=number],select{width:100%;padding:.5rem;box-sizing:border-box;font-size:1rem}
button{margin-top:1.5rem;padding:.5rem 1.5rem;font-size:1rem}
.hint{color:#555;margin:.25rem 0 0;font-size:.9rem}
.error{color:#a00}.flash{padding:.5rem;border:1px solid #888;margin:.5rem 0}
.flash.error{border-color:#a00}.flash.success{border-color:#070}
nav a{margin-right:1rem}
header{margin-bottom:1rem}
main,p,dd,li,pre{overflow-wrap:anywhere}pre{white-space:pre-wrap}
]]

local T = {}

T["security/base.html"] = '<!DOCTYPE html>\n<html lang="{{ lang }}"><head><meta charset="utf-8">'
  .. '<meta name="viewport" content="width=device-width, initial-scale=1">'
  .. "<title>{{ title }}</title><style>" .. STYLE .. "</style></head><body>"
  .. '<header><nav><a id="home" href="{{ home }}">{{ t.LINK_HOME }}</a></nav></header>'
  .. "<main><h1>{{ title }}</h1>"
  .. '{{# flash_list }}<p class="flash {{ category }}" role="status">{{ message }}</p>{{/ flash_list }}'
  .. "{{{ content }}}</main></body></html>\n"

-- partials
T["security/_field.html"] = '<label for="{{ id }}">{{ label }}</label>'
  .. '<input id="{{ id }}" name="{{ id }}" type="{{ type }}"{{# has_value }} value="{{ value }}"{{/ has_value }}'
  .. ' autocomplete="{{ autocomplete }}"{{# invalid }} aria-describedby="{{ id }}-error" aria-invalid="true"'
  .. "{{/ invalid }}>"
  .. '{{# errors }}<p class="error" id="{{ id }}-error" role="alert">{{ . }}</p>{{/ errors }}'
-- an application's register_fields (fsec.pages.own_field's model)
local OWN_ATTRS = '{{# required }} required aria-required="true"{{/ required }}'
  .. '{{# described }} aria-describedby="{{ described }}"{{/ described }}'
  .. '{{# invalid }} aria-invalid="true"{{/ invalid }}'
T["security/_own_field.html"] = '{{# checkbox }}<label><input id="{{ id }}" name="{{ id }}" type="checkbox" value="y"'
  .. "{{# checked }} checked{{/ checked }}" .. OWN_ATTRS .. "> {{ label }}</label>{{/ checkbox }}"
  .. '{{# choice }}<label for="{{ id }}">{{ label }}</label><select id="{{ id }}" name="{{ id }}"' .. OWN_ATTRS
  .. '><option value=""></option>{{# options }}<option value="{{ value }}"{{# selected }} selected{{/ selected }}>'
  .. "{{ value }}</option>{{/ options }}</select>{{/ choice }}"
  .. '{{# input }}<label for="{{ id }}">{{ label }}</label><input id="{{ id }}" name="{{ id }}" type="{{ type }}"'
  .. '{{# has_value }} value="{{ value }}"{{/ has_value }}'
  .. '{{# max_length }} maxlength="{{ max_length }}"{{/ max_length }}'
  .. '{{# min }} min="{{ min }}"{{/ min }}{{# max }} max="{{ max }}"{{/ max }}'
  .. '{{# integer }} step="1" inputmode="numeric"{{/ integer }}' .. OWN_ATTRS .. ' autocomplete="off">{{/ input }}'
  .. '{{# description }}<p class="hint" id="{{ id }}-hint">{{ description }}</p>{{/ description }}'
  .. '{{# errors }}<p class="error" id="{{ id }}-error" role="alert">{{ . }}</p>{{/ errors }}'
T["security/_form_start.html"] = '{{# form_errors }}<p class="error" role="alert">{{ . }}</p>{{/ form_errors }}'
  .. '<form method="post" action="{{ action }}">'
  .. '<input type="hidden" name="csrf_token" value="{{ csrf_token }}">'
  .. '{{# next }}<input type="hidden" name="next" value="{{ next }}">{{/ next }}'
T["security/_links.html"] = '{{# has_nav }}<nav>{{# nav }}<a href="{{ href }}">{{ text }}</a>{{/ nav }}</nav>'
  .. "{{/ has_nav }}"
T["security/_remember.html"] = '<label><input type="checkbox" name="remember" value="y"'
  .. "{{# remember }} checked{{/ remember }}> {{ t.LABEL_REMEMBER }}</label>"
T["security/_errors.html"] = '{{# list }}<p class="error" role="alert">{{ . }}</p>{{/ list }}'
T["security/_authenticator.html"] = "<p>{{ t.TEXT_SCAN_QR }}</p>"
  .. '<p><img id="qrcode" alt="{{ t.ALT_QR }}" width="246" height="246" src="{{ authr_qrcode }}"></p>'
  .. '<p>{{ t.TEXT_OR_ENTER_KEY }} <code id="authr-key">{{ authr_key }}</code><br>{{ authr_account }}</p>'
T["security/_send_code.html"] = "{{# has_code_options }}<fieldset><legend>{{ t.LEGEND_GET_CODE }}</legend>"
  .. '{{# code_options }}<label><input type="radio" name="chosen_method" value="{{ value }}"'
  .. "{{# checked }} checked{{/ checked }}> {{ label }}</label>{{/ code_options }}"
  .. '{{# chosen_errors }}<p class="error" role="alert">{{ . }}</p>{{/ chosen_errors }}'
  .. '<button type="submit" formaction="{{ send_action }}">{{ t.BUTTON_SEND_CODE }}</button></fieldset>'
  .. "{{/ has_code_options }}"

local F = "{{> security/_field.html }}"
local START = "{{> security/_form_start.html }}"
local function button(text) return '<button type="submit">' .. text .. "</button></form>" end

-- Flask-Security's page templates
T["security/login_user.html"] = START .. "{{# email }}" .. F .. "{{/ email }}"
  .. "{{# username_field }}" .. F .. "{{/ username_field }}"
  .. "{{# password }}" .. F .. "{{/ password }}{{> security/_remember.html }}"
  .. button("{{ button }}") .. "{{> security/_links.html }}"
T["security/send_login.html"] = START .. "{{# email }}" .. F .. "{{/ email }}"
  .. "{{# username_field }}" .. F .. "{{/ username_field }}"
  .. button("{{ button }}") .. "{{> security/_links.html }}"
T["security/register_user.html"] = START .. "{{# email }}" .. F .. "{{/ email }}"
  .. "{{# username_field }}" .. F .. "{{/ username_field }}"
  .. "{{# password }}" .. F .. "{{/ password }}{{# password_confirm }}" .. F .. "{{/ password_confirm }}"
  .. "{{# extra_fields }}" .. F .. "{{/ extra_fields }}"
  .. "{{# own_fields }}{{> security/_own_field.html }}{{/ own_fields }}"
  .. button("{{ t.BUTTON_REGISTER }}") .. "{{> security/_links.html }}"
T["security/forgot_password.html"] = START .. "{{# email }}" .. F .. "{{/ email }}"
  .. button("{{ t.BUTTON_SEND }}") .. "{{> security/_links.html }}"
T["security/reset_password.html"] = START .. "{{# password }}" .. F .. "{{/ password }}"
  .. "{{# password_confirm }}" .. F .. "{{/ password_confirm }}" .. button("{{ t.TITLE_RESET }}")
T["security/change_password.html"] = START .. "{{# password }}" .. F .. "{{/ password }}"
  .. "{{# new_password }}" .. F .. "{{/ new_password }}{{# new_password_confirm }}" .. F
  .. "{{/ new_password_confirm }}" .. button("{{ t.TITLE_CHANGE }}")
T["security/send_confirmation.html"] = START .. "{{# email }}" .. F .. "{{/ email }}"
  .. button("{{ t.BUTTON_RESEND }}") .. "{{> security/_links.html }}"
T["security/verify.html"] = START .. "{{# password }}" .. F .. "{{/ password }}" .. button("{{ t.BUTTON_CONTINUE }}")
  .. "{{> security/_links.html }}"
T["security/two_factor_setup.html"] = "{{# primary_html }}<p>{{{ primary_html }}}</p>{{/ primary_html }}"
  .. "{{# show_code }}{{# authr_qrcode }}{{> security/_authenticator.html }}{{/ authr_qrcode }}"
  .. "{{^ authr_qrcode }}{{# sent_text }}<p>{{ sent_text }}</p>{{/ sent_text }}{{/ authr_qrcode }}"
  .. "{{# code_form }}" .. START .. "{{# code }}" .. F .. "{{/ code }}" .. button("{{ t.BUTTON_VERIFY_CODE }}")
  .. "{{/ code_form }}<h2>{{ t.TITLE_OTHER_METHOD }}</h2>{{/ show_code }}"
  .. START .. "<fieldset><legend>{{ t.LEGEND_METHOD }}</legend>"
  .. '{{# method_options }}<label><input type="radio" name="setup" value="{{ value }}"{{# checked }} checked'
  .. "{{/ checked }}> {{ label }}</label>{{/ method_options }}</fieldset>"
  .. '{{# setup_errors }}<p class="error" role="alert">{{ . }}</p>{{/ setup_errors }}'
  .. "{{# phone }}" .. F .. "{{/ phone }}" .. button("{{ t.BUTTON_SET_UP }}")
T["security/two_factor_verify_code.html"] = "<p>{{ intro }}</p>" .. START .. "{{# code }}" .. F .. "{{/ code }}"
  .. button("{{ t.BUTTON_VERIFY_CODE }}")
  .. "{{# help }}" .. START .. "<fieldset><legend>{{ t.LEGEND_CANNOT_GIVE_CODE }}</legend>"
  .. '{{# help_email }}<label><input type="radio" name="help_setup" value="email"> {{ t.OPTION_EMAIL_ME_CODE }}'
  .. "</label>{{/ help_email }}"
  .. '{{# help_recovery }}<label><input type="radio" name="help_setup" value="recovery_code"> '
  .. "{{ t.OPTION_RECOVERY_CODE }}</label>{{/ help_recovery }}"
  .. '{{# help_admin }}<label><input type="radio" name="help_setup" value="help"> {{ t.OPTION_ASK_ADMIN }}'
  .. "</label>{{/ help_admin }}</fieldset>" .. button("{{ t.BUTTON_GET_HELP }}") .. "{{/ help }}"
  .. "{{> security/_links.html }}"
T["security/mf_recovery.html"] = START .. "{{# code }}" .. F .. "{{/ code }}" .. button("{{ t.BUTTON_SIGN_IN }}")
T["security/mf_recovery_codes.html"] = '{{# has_codes }}<p>{{ t.TEXT_KEEP_CODES }}</p><ul id="recovery-codes">'
  .. "{{# codes }}<li><code>{{ . }}</code></li>{{/ codes }}</ul>{{/ has_codes }}"
  .. "{{^ has_codes }}{{# count_text }}<p>{{ count_text }}</p>{{/ count_text }}{{/ has_codes }}"
  .. '{{# errors }}<p class="error" role="alert">{{ . }}</p>{{/ errors }}'
  .. '{{# can_show }}<p><a href="?show_codes=1">{{ t.LINK_SHOW_CODES }}</a></p>{{/ can_show }}'
  .. START .. button("{{ t.BUTTON_NEW_CODES }}")
T["security/us_signin.html"] = START .. "{{# identity }}" .. F .. "{{/ identity }}{{# passcode }}" .. F
  .. "{{/ passcode }}{{> security/_remember.html }}{{> security/_send_code.html }}" .. button("{{ t.BUTTON_SIGN_IN }}")
T["security/us_verify.html"] = START .. "{{# passcode }}" .. F .. "{{/ passcode }}{{> security/_send_code.html }}"
  .. button("{{ t.BUTTON_CONTINUE }}")
-- WebAuthn: a ceremony's page carries the options in data-options and
-- posts the browser's answer back (fsec's script at wan_script_url does
-- it: no inline script, so a strict Content-Security-Policy works)
T["security/_wan_ceremony.html"] = '{{# options_json }}<form id="wan-response" method="post"'
  .. ' action="{{ response_action }}" data-wan="{{ wan_kind }}" data-options="{{ options_json }}">'
  .. '<input type="hidden" name="csrf_token" value="{{ csrf_token }}">'
  .. '<input type="hidden" name="credential" value="">'
  .. '{{# remember }}<input type="hidden" name="remember" value="y">{{/ remember }}'
  .. '<p id="wan-prompt">{{ t.TEXT_WAN_PROMPT }}</p><p class="error" id="wan-error" role="alert" hidden></p>'
  .. '<noscript><p class="error">{{ t.TEXT_WAN_NO_SCRIPT }}</p></noscript></form>'
  .. '<script src="{{ script }}"></script>{{/ options_json }}'
T["security/wan_register.html"] = "{{> security/_wan_ceremony.html }}"
  .. "{{^ has_credentials }}<p>{{ t.TEXT_WAN_NONE }}</p>{{/ has_credentials }}"
  .. '{{# has_credentials }}<ul id="wan-credentials">{{# credentials }}<li>{{ text }}'
  .. '<form method="post" action="{{ delete_action }}"><input type="hidden" name="csrf_token" value="{{ csrf_token }}">'
  .. '<input type="hidden" name="name" value="{{ name }}"><button type="submit">{{ t.BUTTON_WAN_DELETE }}</button>'
  .. "</form></li>{{/ credentials }}</ul>{{/ has_credentials }}"
  .. START .. "{{# name }}" .. F .. "{{/ name }}"
  .. "{{# has_usages }}<fieldset><legend>{{ t.LEGEND_WAN_USAGE }}</legend>"
  .. '{{# usage_options }}<label><input type="radio" name="usage" value="{{ value }}"{{# checked }} checked'
  .. "{{/ checked }}> {{ label }}</label>{{/ usage_options }}</fieldset>{{/ has_usages }}"
  .. '{{# usage_errors }}<p class="error" role="alert">{{ . }}</p>{{/ usage_errors }}'
  .. button("{{ t.BUTTON_WAN_REGISTER }}")
T["security/wan_signin.html"] = "{{> security/_wan_ceremony.html }}{{^ options_json }}"
  .. START .. "{{# identity }}" .. F .. "{{/ identity }}{{^ is_secondary }}{{> security/_remember.html }}"
  .. "{{/ is_secondary }}" .. button("{{ t.BUTTON_WAN_SIGNIN }}") .. "{{/ options_json }}"
T["security/wan_verify.html"] = "{{> security/_wan_ceremony.html }}{{^ options_json }}"
  .. START .. button("{{ t.BUTTON_WAN_SIGNIN }}") .. "{{/ options_json }}"
T["security/us_setup.html"] = "<p>{{{ active_html }}}</p>"
  .. "{{# show_code }}{{# authr_qrcode }}{{> security/_authenticator.html }}{{/ authr_qrcode }}"
  .. "{{^ authr_qrcode }}{{# sent_text }}<p>{{ sent_text }}</p>{{/ sent_text }}{{/ authr_qrcode }}"
  .. "{{# code_form }}" .. START .. "{{# code }}" .. F .. "{{/ code }}" .. button("{{ t.BUTTON_VERIFY_CODE }}")
  .. "{{/ code_form }}<h2>{{ t.TITLE_CHANGE_OTHER_METHOD }}</h2>{{/ show_code }}"
  .. START .. "<fieldset><legend>{{ t.LEGEND_SET_UP_METHOD }}</legend>"
  .. '{{# setup_options }}<label><input type="radio" name="chosen_method" value="{{ value }}"{{# checked }} checked'
  .. "{{/ checked }}> {{ label }}</label>{{/ setup_options }}"
  .. '{{# chosen_errors }}<p class="error" role="alert">{{ . }}</p>{{/ chosen_errors }}</fieldset>'
  .. "{{# phone }}" .. F .. "{{/ phone }}"
  .. "{{# has_delete }}<fieldset><legend>{{ t.LEGEND_REMOVE_METHOD }}</legend>{{/ has_delete }}"
  .. '{{# delete_options }}<label><input type="checkbox" name="delete_method" value="{{ value }}"> {{ label }}'
  .. "</label>{{/ delete_options }}"
  .. '{{# delete_errors }}<p class="error" role="alert">{{ . }}</p>{{/ delete_errors }}'
  .. "{{# has_delete }}</fieldset>{{/ has_delete }}" .. button("{{ t.BUTTON_SAVE }}")
T["security/change_email.html"] = "<p>{{{ current_html }}}</p>" .. START .. "{{# email }}" .. F .. "{{/ email }}"
  .. button("{{ t.BUTTON_SEND_CONFIRMATION_LINK }}")
T["security/change_username.html"] = "<p>{{{ current_html }}}</p>" .. START
  .. "{{# username_field }}" .. F .. "{{/ username_field }}" .. button("{{ t.TITLE_CHANGE_USERNAME }}")
T["security/recover_username.html"] = START .. "{{# email }}" .. F .. "{{/ email }}"
  .. button("{{ t.BUTTON_SEND_USERNAME }}")
-- fsec's own pages (Flask-Security has none of these)
T["security/link_consent.html"] = "<p>{{{ question_html }}}</p>{{# current_html }}<p>{{{ current_html }}}</p>"
  .. "{{/ current_html }}" .. START .. button("{{ button }}")
T["security/change_email_consent.html"] = "<p>{{{ question_html }}}</p>" .. START .. button("{{ t.BUTTON_CONFIRM }}")
T["security/logout.html"] = "{{# signed_in_html }}<p>{{{ signed_in_html }}}</p>" .. START
  .. button("{{ t.TITLE_LOGOUT }}") .. "{{/ signed_in_html }}"
  .. "{{^ signed_in_html }}<p>{{ t.TEXT_NOT_SIGNED_IN }}</p>{{/ signed_in_html }}"
T["security/message.html"] = "<p>{{ message }}</p>"

-- Mail: each kind's text and HTML bodies. `intro` (and `outro`) are the
-- kind's texts in the recipient's language (fsec.mail), `link` the link.
local TXT = "{{ intro }}\n{{# link }}{{ link }}\n{{/ link }}{{# outro }}\n{{ outro }}\n{{/ outro }}"
local HTML = '<!DOCTYPE html>\n<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title>'
  .. "</head><body>{{# paragraphs }}<p>{{ . }}</p>{{/ paragraphs }}"
  .. '{{# link }}<p><a href="{{ link }}">{{ link }}</a></p>{{/ link }}'
  .. "{{# outro }}<p>{{ outro }}</p>{{/ outro }}</body></html>\n"

-- (Flask-Security's names, and fsec's for the mails it adds)
for _, base in ipairs{ "welcome", "welcome_existing", "welcome_existing_username", "confirmation_instructions",
                       "reset_instructions", "reset_notice", "change_notice", "login_instructions",
                       "two_factor_instructions", "us_instructions", "two_factor_rescue", "username_recovery",
                       "username_change_notice", "change_email_instructions", "change_email_notice" } do
  T["security/email/" .. base .. ".txt"] = TXT
  T["security/email/" .. base .. ".html"] = HTML
end

return T
