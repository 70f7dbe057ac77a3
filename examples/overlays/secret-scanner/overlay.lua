-- Secret scanner (validation hook): validate(capsule) runs before a capsule is created or its
-- content changes, and refuses content that holds credentials. Patterns are Lua patterns with
-- bounded repetition only (no nested .- / .* backtracking), so a 1 MB capsule scans in linear time.
local rules = {
  {"-----BEGIN [A-Z ]*PRIVATE KEY-----", "a private key"},
  {"AKIA[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]"
     .. "[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]", "an AWS access key id"},
  {"ghp_[%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w][%w]",
   "a GitHub token"},
  {"xox[baprs]%-[%w%-][%w%-][%w%-][%w%-][%w%-][%w%-][%w%-][%w%-][%w%-][%w%-]", "a Slack token"},
  {"[Bb]earer%s+[%w%-%._~%+/][%w%-%._~%+/][%w%-%._~%+/][%w%-%._~%+/][%w%-%._~%+/]"
     .. "[%w%-%._~%+/][%w%-%._~%+/][%w%-%._~%+/][%w%-%._~%+/][%w%-%._~%+/]", "a bearer token"},
}

-- password = "...", passwd: ..., pwd=... (case-insensitive key, a non-empty value)
local function has_password(text)
  local lower = string.lower(text)
  for _, key in ipairs({"password", "passwd", "pwd", "secret", "api_key", "apikey"}) do
    local init = 1
    while true do
      local s, e = string.find(lower, key, init, true)
      if not s then break end
      local rest = string.sub(lower, e + 1, e + 40)
      if string.find(rest, "^%s*[:=]%s*[\"']?[^%s\"']") then
        return true
      end
      init = e + 1
    end
  end
  return false
end

function validate(capsule)
  local text = capsule.content
  if type(text) ~= "string" then
    return {allow = true} -- metadata-only change: nothing to scan
  end
  for _, r in ipairs(rules) do
    if string.find(text, r[1]) then
      return {allow = false, message = "content contains " .. r[2]}
    end
  end
  if has_password(text) then
    return {allow = false, message = "content contains a password or secret assignment"}
  end
  return {allow = true, metadata = {secret_scan = "clean"}}
end
