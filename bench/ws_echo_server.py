"""The WebSocket echo server of the WebSocket benches (bench/websockets_10k.py, bench/ws_throughput.py).

    python bench/ws_echo_server.py LIFETIME_S PORT HOST[,HOST...]

aiohttp on uvloop, listen backlog 4096, SO_REUSEPORT (one process per 10,000 sockets on one port), answers
pings, echoes text and binary; prints ``listening ...`` with its ``/stats`` port (open / peak / accepted
per local address) and exits by itself after LIFETIME_S. Binds only the 127.0.0.x addresses given.
"""
import asyncio, signal, sys
from aiohttp import web, WSMsgType

# per local address (127.0.0.1/.2: liminal-tui, 127.0.0.3/.4: the bare anchor): open / peak / accepted
state = {}

async def ws_handler(request):
    host = request.transport.get_extra_info("sockname")[0]
    st = state.setdefault(host, {"open": 0, "peak": 0, "accepted": 0})
    ws = web.WebSocketResponse(autoping=True, heartbeat=None, compress=False)
    await ws.prepare(request)
    st["open"] += 1
    st["accepted"] += 1
    if st["open"] > st["peak"]:
        st["peak"] = st["open"]
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
    finally:
        st["open"] -= 1
    return ws

async def health(request):
    return web.Response(text="ok")

async def stats(request):
    return web.json_response(state)

async def main(lifetime, port, hosts):
    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    for host in hosts:  # every server process listens on the same port (SO_REUSEPORT): the kernel spreads connections
        await web.TCPSite(runner, host, port, backlog=4096, reuse_port=True).start()
    own = web.TCPSite(runner, "127.0.0.1", 0)  # this process's own stats
    await own.start()
    print(f"listening {port} stats {own._server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), lifetime)  # bounded: exits by itself
    except asyncio.TimeoutError:
        pass
    await runner.cleanup()

try:
    import uvloop
    uvloop.install()
except ImportError:
    pass
asyncio.run(main(float(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")))
