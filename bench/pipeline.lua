-- bench/pipeline.lua: HTTP/1.1 pipelining for wrk, TechEmpower style. Each write carries DEPTH
-- copies of the request (method, path and headers from wrk's command line), so the server sees
-- DEPTH requests per read and can answer them with one write.
--
-- usage: wrk -s bench/pipeline.lua http://127.0.0.1:PORT/plaintext -- [DEPTH (16)]
-- wrk counts every response, so Requests/sec is requests, not batches. Its latency figures
-- are per batch, not per request.

local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  local one = wrk.format()
  local copies = {}
  for i = 1, depth do
    copies[i] = one
  end
  batch = table.concat(copies)
end

function request()
  return batch
end
