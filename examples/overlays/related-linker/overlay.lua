-- Related-knowledge linker: process({capsule_id = ..., limit = n}) reads the capsule, searches
-- for its most distinctive words (keyword search, with the overlay's trust) and returns the
-- related capsules, best first, without the capsule itself.
local stop = {the = true, a = true, an = true, ["and"] = true, ["or"] = true, of = true,
              to = true, ["in"] = true, is = true, ["for"] = true, on = true, with = true,
              that = true, this = true, it = true, be = true, are = true, as = true}

local function keywords(text, max)
  local counts, order = {}, {}
  for w in string.gmatch(string.lower(text), "%a%a%a+") do
    if not stop[w] then
      if not counts[w] then order[#order + 1] = w end
      counts[w] = (counts[w] or 0) + 1
    end
  end
  table.sort(order, function(x, y)
    if counts[x] ~= counts[y] then return counts[x] > counts[y] end
    return x < y
  end)
  local out = {}
  for i = 1, math.min(max, #order) do out[i] = order[i] end
  return out
end

function process(input)
  local cap = forge.capsule.get(input.capsule_id)
  if cap == nil then
    return {error = "capsule not found"}
  end
  local words = keywords(cap.content, 5)
  if #words == 0 then
    return {capsule_id = cap.id, related = {}}
  end
  local hits = forge.capsule.search(table.concat(words, " "),
                                    {limit = (input.limit or 5) + 1, mode = "keyword"})
  local related = {}
  for _, h in ipairs(hits) do
    if h.capsule.id ~= cap.id and #related < (input.limit or 5) then
      related[#related + 1] = {id = h.capsule.id, score = h.score}
    end
  end
  return {capsule_id = cap.id, keywords = words, related = related}
end
