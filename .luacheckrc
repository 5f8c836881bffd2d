-- luacheck configuration for fsec (Debian's lua-check): spec/check-luacheck.sh
-- runs it over lua/ bin/ examples/ spec/ inside the test command (ctest
-- lint.luacheck), and it must report 0 warnings.
--
-- Every file runs on Lua 5.4 and on LuaJIT. The union of both standards
-- lets the guarded fallbacks through (`table.unpack or unpack`,
-- `loadstring or load`, `if math.type`); luacheck cannot tell those from
-- a bare use, so a 5.4-only or LuaJIT-only call is caught by the other
-- runtime's spec pass, not here. "max" would also admit Lua 5.1-5.3's
-- compat globals (module, setfenv on 5.4...), which no file may use.
std = "lua54+luajit"

-- Code lines stop at 120 characters.
max_line_length = 120

-- bin/fsec has no .lua suffix; name it so directories pick it up.
include_files = { "lua/**/*.lua", "bin/fsec", "examples/**/*.lua", "spec/**/*.lua" }
-- Not ours, or generated: npm's packages for the browser test, build output.
exclude_files = { "spec/browser/node_modules/**", "build/**", "**/build/**" }

-- Only the files that run inside nginx see nginx's `ngx` global. Luacheck
-- 1.1's ngx_lua standard predates ngx.run_worker_thread (lua-nginx-module
-- 0.10.21; Debian 12 ships 0.10.23): ngx_extra adds it.
stds.ngx_extra = { read_globals = { ngx = { fields = { run_worker_thread = {} } } } }
files["lua/fsec/openresty.lua"] = { std = "+ngx_lua+ngx_extra" }
files["lua/fsec/openresty/**/*.lua"] = { std = "+ngx_lua+ngx_extra" }
files["examples/openresty/**/*.lua"] = { std = "+ngx_lua" }
files["examples/flask-edge/**/*.lua"] = { std = "+ngx_lua" }
-- fsec.log runs everywhere: it only reads ngx, where nginx provides it, to
-- log through nginx's error log (stderr elsewhere).
files["lua/fsec/log.lua"] = { read_globals = { "ngx" } }
-- fsec.events runs everywhere too: under nginx it reads the request's
-- context, the clock and the datagram cosocket (syslog) from ngx.
files["lua/fsec/events.lua"] = { std = "+ngx_lua" }

-- Specs run under busted.
files["spec/**/*.lua"] = {
  std = "+busted",
  -- A test name is a sentence that docs/catalogue.md cites as file::name
  -- and spec/check-catalogue.sh finds with grep: it stays on one line, so
  -- spec lines may run longer than code elsewhere.
  max_line_length = 160,
}
