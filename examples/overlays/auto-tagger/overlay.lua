-- Auto-tagger (event hook): on_event(event) receives each capsule.created event after commit,
-- reads the capsule (with the overlay's trust) and writes metadata.tags from keyword rules.
-- tags_for(text) is also an entry point so the rules can be tried through the invoke API.
local rules = {
  {"postgres", "database"}, {"sqlite", "database"}, {"kubernetes", "ops"}, {"deploy", "ops"},
  {"incident", "incident"}, {"outage", "incident"}, {"security", "security"},
  {"password", "security"}, {"lua", "overlays"}, {"decision", "decision"},
}

function tags_for(text)
  local lower = string.lower(text or "")
  local seen, tags = {}, {}
  for _, r in ipairs(rules) do
    if not seen[r[2]] and string.find(lower, r[1], 1, true) then
      seen[r[2]] = true
      tags[#tags + 1] = r[2]
    end
  end
  table.sort(tags)
  return tags
end

function on_event(event)
  local id = event.resource_id
  local cap = forge.capsule.get(id)
  if cap == nil then
    forge.log("capsule " .. tostring(id) .. " is not visible at this overlay's trust")
    return {skipped = true}
  end
  local meta = cap.metadata or {}
  if meta.auto_tags ~= nil then
    return {skipped = true} -- already tagged (events are delivered at least once)
  end
  local tags = tags_for(cap.content)
  meta.auto_tags = #tags > 0 and tags or {"untagged"}
  forge.capsule.update(id, {metadata = meta})
  forge.log("tagged " .. id .. " with " .. table.concat(meta.auto_tags, ","))
  return {tags = meta.auto_tags}
end
