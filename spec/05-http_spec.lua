-- fsec.http request helpers: the Cookie header parser, checked against
-- a plain pattern-based reference (the parser is a hand-written scan for
-- speed, so it is compared with the obvious form on random headers).
local http = require "fsec.http"

-- The reference: the rule written as Lua patterns.
local function reference(header)
  local out = {}
  for pair in header:gmatch("[^;]+") do
    local k, v = pair:match("^%s*([^=%s]+)%s*=%s*(.-)%s*$")
    if k then http.add_value(out, k, v) end
  end
  return out
end

local function same(a, b)
  for k, v in pairs(a) do
    if type(v) == "table" then
      if type(b[k]) ~= "table" or #v ~= #b[k] then return false end
      for i = 1, #v do if v[i] ~= b[k][i] then return false end end
    elseif b[k] ~= v then
      return false
    end
  end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

describe("http.parse_cookies #quick", function()
  it("splits pairs, trims blanks, keeps '=' inside values", function()
    local c = http.parse_cookies(" session = abc.def= ; csrf=x=y;empty=; a=1")
    assert.same({ session = "abc.def=", csrf = "x=y", empty = "", a = "1" }, c)
  end)

  it("reads a repeated name as a list (so single() sees it as absent)", function()
    local c = http.parse_cookies("session=a; session=b")
    assert.same({ "a", "b" }, c.session)
    assert.is_nil(http.single(c, "session"))
  end)

  it("skips pairs without '=', with an empty name or a blank inside the name", function()
    assert.same({ ok = "1" }, http.parse_cookies("novalue; =v; a b=c; ok=1;;"))
  end)

  it("gives an empty table for a missing or non-string header", function()
    assert.same({}, http.parse_cookies(nil))
    assert.same({}, http.parse_cookies({ "a=b" }))
    assert.same({}, http.parse_cookies(""))
  end)

  it("agrees with the pattern reference on 5000 random headers", function()
    math.randomseed(12345)
    local alphabet = { "a", "b", "=", ";", " ", "\t", "\r", "\n", "\v", "x", ".", "-", "\0", "\255" }
    for _ = 1, 5000 do
      local parts = {}
      for i = 1, math.random(0, 40) do parts[i] = alphabet[math.random(#alphabet)] end
      local h = table.concat(parts)
      local got, want = http.parse_cookies(h), reference(h)
      if not same(got, want) then
        error(("parse_cookies(%q) differs from the reference"):format(h))
      end
    end
  end)

  it("parses a long header in linear time (no backtracking pattern)", function()
    -- 64 KiB of blanks inside one value: the old pattern '(.-)%s*$'
    -- was quadratic on this; a linear scan answers at once. The check is
    -- on the result, the size makes a quadratic parser take minutes.
    local h = "a=x" .. string.rep(" ", 65536) .. "y"
    assert.equal("x" .. string.rep(" ", 65536) .. "y", http.parse_cookies(h).a)
  end)
end)

describe("http.cookie #quick", function()
  it("reads one name as parse_cookies does, on 5000 random headers", function()
    local pieces = { "session", "a", "__Host-session", "x.y", "s-1", "=", ";", " ", "\t", "v", "a b", "==", "%", "\0",
                     "; ", "session=", "; session=", "a=" }
    math.randomseed(42)
    for _ = 1, 5000 do
      local t = {}
      for i = 1, math.random(0, 12) do t[i] = pieces[math.random(#pieces)] end
      local h = table.concat(t)
      local all = http.parse_cookies(h)
      for _, name in ipairs{ "session", "a", "__Host-session", "x.y", "s-1", "v", "a\0", "\0v" } do
        local want = all[name]
        if type(want) == "table" then want = false end
        assert.equals(want, http.cookie(h, name), ("header %q, name %q"):format(h, name))
      end
    end
  end)

  it("answers nil for names parse_cookies never yields, and for no header", function()
    assert.is_nil(http.cookie("a b=1", "a b"))
    assert.is_nil(http.cookie("=1", ""))
    assert.is_nil(http.cookie(nil, "session"))
    assert.is_nil(http.cookie("a=1", "a\0b")) -- a NUL in the name is part of it, not its end
    assert.equals("1", http.cookie("a\0b=1", "a\0b"))
    for i = 1, 100 do assert.is_nil(http.cookie("x=1", "name" .. i)) end -- any names: no growth past 64
    assert.equals(false, http.cookie("session=a; session=b", "session"))
    assert.equals("a b", http.cookie(" session =  a b  ; x=1", "session"))
  end)
end)

describe("http.header and http.request_cookie #quick", function()
  it("read a plain request's tables (repeated or over max: absent)", function()
    local req = { headers = { ["x-a"] = "1", ["x-b"] = { "1", "2" } },
                  cookies = { session = "s", twice = { "a", "b" } } }
    assert.equals("1", http.header(req, "x-a"))
    assert.is_nil(http.header(req, "x-b"))
    assert.is_nil(http.header(req, "x-a", 0))
    assert.equals("s", http.request_cookie(req, "session"))
    assert.is_nil(http.request_cookie(req, "twice"))
    assert.is_nil(http.request_cookie(req, "session", 0))
    assert.is_nil(http.header({}, "x-a"))
    assert.is_nil(http.request_cookie({}, "session"))
  end)

  it("ask the adapter's readers until the tables exist, then read the tables", function()
    local asked = {}
    local req = {
      read_header = function(name) asked[#asked + 1] = "h:" .. name; return name == "x-a" and "from reader" or nil end,
      read_cookie = function(name)
        asked[#asked + 1] = "c:" .. name
        if name == "twice" then return false end -- nginx's reader: a repeated name
        return "v-" .. name
      end,
    }
    assert.equals("from reader", http.header(req, "x-a"))
    assert.is_nil(http.header(req, "x-none"))
    assert.is_nil(http.header(req, "x-a", 3))                 -- over max
    assert.equals("v-session", http.request_cookie(req, "session"))
    assert.is_nil(http.request_cookie(req, "twice"))          -- repeated: absent
    assert.is_nil(http.request_cookie(req, "session", 2))
    assert.same({ "h:x-a", "h:x-none", "h:x-a", "c:session", "c:twice", "c:session" }, asked)
    -- a hook that builds (or replaces) the tables is what fsec reads from then on
    req.headers = { ["x-a"] = "set by a hook" }
    req.cookies = { session = "hook" }
    assert.equals("set by a hook", http.header(req, "x-a"))
    assert.equals("hook", http.request_cookie(req, "session"))
    assert.equals(6, #asked)
  end)
end)

describe("http.wants_json #quick", function()
  local function wants(accept, ct)
    return http.wants_json{ headers = { accept = accept, ["content-type"] = ct } }
  end

  it("follows the best match of Accept, or a JSON body", function()
    assert.is_true(wants("application/json"))
    assert.is_true(wants("text/html;q=0.5, application/json"))
    assert.is_false(wants("text/html, application/json;q=0.9"))
    -- a tie goes to the range written first, as in Flask-Security (spec/33-flask_security_wire)
    assert.is_false(wants("text/html, application/json"))
    assert.is_true(wants("application/json, text/html"))
    assert.is_false(wants(nil))
    assert.is_true(wants(nil, "application/json; charset=utf-8"))
  end)

  it("skips empty or broken media ranges instead of failing (any client can send them)", function()
    for _, accept in ipairs{ ";", " ", ",", ", ,", "text/html, ;q=0.5", ";q=1, application/json", "\t;\t",
                             string.rep(";,", 1000) } do
      local ok, res = pcall(wants, accept)
      assert.is_true(ok, ("%q: %s"):format(accept, tostring(res)))
    end
    assert.is_true(wants(";q=1, application/json"))
    assert.is_false(wants("text/html, ;q=0.5"))
  end)
end)

describe("http.wants_html #quick", function()
  local function page(accept, ct)
    return http.wants_html{ headers = { accept = accept, ["content-type"] = ct } }
  end

  it("is a page for a browser's Accept, whatever range Werkzeug would call best", function()
    -- Chromium's: Werkzeug 2.2 ranks application/signed-exchange;v=b3 first
    -- (its parameter), and Flask still answers such a browser with pages
    assert.is_true(page("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
      .. "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"))
    assert.is_true(page("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")) -- Firefox
    assert.is_true(page("text/html, application/json"))
  end)

  it("is text for scripts and JSON for JSON clients", function()
    assert.is_false(page("*/*"))
    assert.is_false(page(nil))
    assert.is_false(page("text/html;q=0, */*"))
    assert.is_false(page("application/json, text/html"))
    assert.is_false(page("text/html", "application/json"))
  end)
end)

describe("http.full_path #quick", function()
  -- where a browser sends a form whose action is this (R-01's model:
  -- "//host" and "/\host" leave the site; tabs and newlines are dropped)
  local function leaves_site(p)
    p = p:gsub("[\t\r\n]", ""):gsub("\\", "/")
    return p:sub(1, 1) ~= "/" or p:sub(1, 2) == "//"
  end

  it("keeps a plain raw URI, query included", function()
    assert.equals("/login?next=%2Fprofile", http.full_path{ uri = "/login?next=%2Fprofile", path = "/login" })
    assert.equals("/", http.full_path{ uri = "/", path = "/" })
    assert.equals("/login?next=%2Fx", http.full_path{ path = "/login", query = { next = "/x" } })
  end)

  it("never gives a path that leaves the site, whatever the raw URI or path", function()
    for _, uri in ipairs{ "//evil.example/..%2flogin", "/\\evil.example/..%2flogin", "///evil", "/\t/evil",
                          "\\\\evil", "evil", "/a b", "" } do
      for _, path in ipairs{ "/login", "//evil.example/login", "/\\evil", "\t//evil", "", "login" } do
        local out = http.full_path{ uri = uri, path = path, query = {} }
        assert.is_false(leaves_site(out), ("%q %q -> %q"):format(uri, path, out))
      end
    end
    assert.equals("/login", http.full_path{ uri = "//evil.example/..%2flogin", path = "/login", query = {} })
  end)
end)
