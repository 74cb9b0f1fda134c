-- wrk script for Benchmarks/fleet: uploads of a tiny PEFT adapter, new content every time. Each
-- request is the multipart upload of CONFIG (its "NONCE" replaced by SALT-thread-count) and WEIGHTS
-- with the first two float32 values of its data overwritten: one from the count, one from SALT and the
-- thread (finite values near 0.01), so no two uploads of one benchmark share a blob or a digest.
-- Prints "created N" at the end: the answers that were 201 (a new adapter), summed over threads.
--   wrk -t8 -c8 -d3s -s upload.lua http://127.0.0.1:PORT -- SALT CONFIG WEIGHTS DATA_OFFSET
local threads = {}
local count = 0

function setup(thread)
    count = count + 1
    thread:set("tid", count)
    table.insert(threads, thread)
end

local function slurp(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

function init(args)
    salt = tonumber(args[1])
    config = slurp(args[2])
    weights = slurp(args[3])
    offset = tonumber(args[4])            -- byte offset of the data section (8 + header length)
    boundary = "fleetbench" .. salt .. "x" .. tid
    headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }
    head_config = "--" .. boundary .. '\r\nContent-Disposition: form-data; name="adapter_config.json"; filename="adapter_config.json"\r\nContent-Type: application/json\r\n\r\n'
    head_weights = "\r\n--" .. boundary .. '\r\nContent-Disposition: form-data; name="adapter_model.safetensors"; filename="adapter_model.safetensors"\r\nContent-Type: application/octet-stream\r\n\r\n'
    tail = "\r\n--" .. boundary .. "--\r\n"
    n = 0
    created = 0
end

function request()
    n = n + 1
    local f0 = string.char(n % 256, math.floor(n / 256) % 256, math.floor(n / 65536) % 128, 0x3c)
    local f1 = string.char(salt % 256, tid % 256, 0, 0x3c)
    local w = weights:sub(1, offset) .. f0 .. f1 .. weights:sub(offset + 9)
    local c = config:gsub("NONCE", salt .. "-" .. tid .. "-" .. n)
    return wrk.format("POST", "/v1/adapters", headers, head_config .. c .. head_weights .. w .. tail)
end

function response(status, headers, body)
    if status == 201 then created = created + 1 end
end

function done(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do total = total + thread:get("created") end
    io.write("created " .. total .. "\n")
end
