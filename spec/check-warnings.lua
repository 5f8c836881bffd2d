-- check-warnings.lua: the C build has no -Wall -Wextra warnings (issue 21).
--   lua5.4 spec/check-warnings.lua BUILD_DIR
-- Reads BUILD_DIR/compile_commands.json: every C file must be compiled
-- with -Wall and -Wextra. A build with -Werror (FSEC_WERROR=ON, as
-- scripts/test.sh configures it) has then proved it: any warning would
-- have failed it. Otherwise each file is compiled again here with -Werror.
-- First a probe with an unused variable, compiled with the build's own
-- flags, must fail, so flags that warn about nothing cannot pass.
local cjson = require "cjson"

local build = assert(arg[1], "usage: check-warnings.lua BUILD_DIR")
local f = assert(io.open(build .. "/compile_commands.json"),
                 "no compile_commands.json in " .. build .. " (CMAKE_EXPORT_COMPILE_COMMANDS)")
local commands = cjson.decode(f:read("*a"))
f:close()

local function has(cmd, flag) return (" " .. cmd .. " "):find(" " .. flag:gsub("%-", "%%-") .. " ") ~= nil end

-- the command with its output sent to /dev/null and -Werror added
local function again(cmd, file)
  cmd = cmd:gsub(" %-o %S+", " -o /dev/null"):gsub(" %-c %S+", " -c " .. file)
  return cmd .. " -Werror"
end

local function quiet_ok(cmd, dir)
  local ok, _, code = os.execute(("cd '%s' && %s >/dev/null 2>&1"):format(dir, cmd))
  if type(ok) == "number" then return ok == 0 end
  return ok == true and code == 0
end

local c, werror, bad = {}, true, 0
for _, e in ipairs(commands) do
  if e.file:match("%.c$") then
    c[#c + 1] = e
    for _, flag in ipairs{ "-Wall", "-Wextra" } do
      if not has(e.command, flag) then
        print(("check-warnings: %s is compiled without %s"):format(e.file, flag))
        bad = bad + 1
      end
    end
    werror = werror and has(e.command, "-Werror")
  end
end
assert(#c > 20, "only " .. #c .. " C files in compile_commands.json")

local probe = os.tmpname()
local pf = assert(io.open(probe .. ".c", "w"))
pf:write("int probe(void);\nint probe(void) { int unused; return 0; }\n")
pf:close()
local caught = not quiet_ok(again(c[1].command, probe .. ".c"), c[1].directory)
os.remove(probe .. ".c")
os.remove(probe)
assert(caught, "check-warnings: the build's flags let an unused variable pass")

if bad == 0 and not werror then
  for _, e in ipairs(c) do
    if not quiet_ok(again(e.command, e.file), e.directory) then
      print("check-warnings: warnings in " .. e.file)
      bad = bad + 1
    end
  end
end
if bad > 0 then os.exit(1) end
print(("check-warnings: %d C files, -Wall -Wextra%s, no warning"):format(
  #c, werror and " -Werror (the build itself proved it)" or " (compiled again with -Werror)"))
