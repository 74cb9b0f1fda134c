-- wrk script for Benchmarks/fleet: name moves. Each wrk thread (one connection each: run with -tN -cN)
-- owns the name PREFIX-<thread> and PUTs it at the two adapters in turn, so every request after the
-- first moves the name (200; the first may create it, 201).
--   wrk -t8 -c8 -d3s -s move.lua http://127.0.0.1:PORT -- PREFIX DIGEST_A DIGEST_B
local threads = {}
local count = 0

function setup(thread)
    count = count + 1
    thread:set("tid", count)
    table.insert(threads, thread)
end

function init(args)
    path = "/v1/names/" .. args[1] .. "-" .. tid
    bodies = { '{"adapter":"' .. args[2] .. '"}', '{"adapter":"' .. args[3] .. '"}' }
    headers = { ["Content-Type"] = "application/json" }
    n = 0
end

function request()
    n = n + 1
    return wrk.format("PUT", path, headers, bodies[n % 2 + 1])
end
