-- POST /api/auth/register/ with a new address every time: wrk ... -- TAG PASSWORD
local counter, tag, password = 0, "", ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  tag = args[1]
  password = args[2]
end

function request()
  counter = counter + 1
  local body = string.format('{"email": "new-%s-%d-%d@bench.example", "password": "%s"}',
                             tag, tid, counter, password)
  return wrk.format(nil, "/api/auth/register/", nil, body)
end
