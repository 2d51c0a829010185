-- POST /api/auth/login/ as a random one of the seeded users: wrk ... -- USERS PASSWORD
local users, password = 1000, ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  users = tonumber(args[1])
  password = args[2]
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local body = string.format('{"email": "user%d@bench.example", "password": "%s"}',
                             math.random(1, users), password)
  return wrk.format(nil, "/api/auth/login/", nil, body)
end
