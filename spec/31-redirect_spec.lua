-- Safe redirects (catalogue §7.6): every hostile `next` either falls back
-- (nil) or stays on our host as a browser would read it.
local redirect = require "fsec.redirect"

local HOST = "ourhost.example"
local req = { host = HOST, scheme = "https" }

-- What host would a browser go to for this Location? (WHATWG: strip
-- leading C0/space, drop tab/CR/LF, "\" is "/" for http(s).)
local function effective_host(loc)
  loc = loc:gsub("^[%z\1-\32]+", ""):gsub("[\t\r\n]", ""):gsub("\\", "/")
  local scheme = loc:match("^(%a[%w+.-]*):")
  if scheme and scheme:lower() ~= "http" and scheme:lower() ~= "https" then return "other-scheme" end
  local rest = scheme and loc:sub(#scheme + 2) or loc
  if rest:sub(1, 2) ~= "//" then
    if scheme then return "?" end -- "https:evil.com" style: browsers treat as host
    return HOST -- a path on our site
  end
  local authority = rest:sub(3):match("^([^/?#]*)")
  return (authority:gsub("^.*@", ""):gsub(":$", ""):lower()) -- the port is part of it
end

local PAYLOADS = {
  "http://evil.com", "https://evil.com", "//evil.com", "///evil.com", "////evil.com",
  "\\\\\\evil.com", "\\/evil.com", "/\\evil.com", "\\\\evil.com", " //evil.com", "\t//evil.com",
  "\25////evil.com", "\226\128\138///evil.com", "%5C%5C%5Cevil.com", "/%5Cevil.com",
  "https:evil.com", "http:/evil.com", "http:///evil.com", "https://" .. HOST .. "\\@evil.com",
  "https://" .. HOST .. "@evil.com", "https://evil.com#@" .. HOST, "http:999999999",
  "javascript:alert(1)", "data:text/html,x", "/\t/evil.com", "/\r\nLocation: //evil.com",
  "https://evil.com\\." .. HOST, "https://evil.com%5C." .. HOST, "https://u:p@evil.com\\." .. HOST,
  "https://evil-" .. HOST, "https://" .. HOST .. ".evil.com", "", string.rep("/a", 2000),
  -- another service on our host name
  "https://" .. HOST .. ":8443/x", "http://" .. HOST .. ":22/", "https://" .. HOST .. ":/x",
}

describe("safe next #quick", function()
  it("never lets a hostile next leave our host (R-01, R-02)", function()
    for _, p in ipairs(PAYLOADS) do
      local out = redirect.safe(req, p)
      if out ~= nil then
        assert.equals(HOST, effective_host(out), ("%q"):format(p))
        assert.is_nil(out:find("[\r\n]"))
      end
    end
  end)

  it("keeps relative paths and our own URLs (R-03)", function()
    assert.equals("/profile?x=1#a", redirect.safe(req, "/profile?x=1#a"))
    assert.equals("https://ourhost.example/x", redirect.safe(req, "https://ourhost.example/x"))
    assert.equals("https://OURHOST.example/x", redirect.safe(req, "https://OURHOST.example/x"))
    -- a port only when the request's Host names the same one
    local ported = { host = HOST .. ":8443", scheme = "https" }
    assert.equals("https://ourhost.example:8443/x", redirect.safe(ported, "https://ourhost.example:8443/x"))
    assert.is_nil(redirect.safe(ported, "https://ourhost.example:9000/x"))
    assert.is_nil(redirect.safe(ported, "https://ourhost.example/x"))
    assert.equals("/%5Cpath", redirect.safe(req, "/%5Cpath")) -- a literal path segment
  end)
end)
