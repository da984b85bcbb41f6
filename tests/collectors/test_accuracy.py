"""Accuracy: bytes sent over loopback TCP come back from the `lo` receive rate.

The registry is run on the real machine at a 1 s cadence with the real monotonic clock.
Between ticks a sender pushes a known payload over a loopback TCP connection opened
before the window. The rates, multiplied by the elapsed monotonic time of each tick
and summed, must give back the payload within 1 %. What the kernel counts on `lo` is
frames, not payload: each TCP segment adds its Ethernet, IP and TCP headers (about
66 bytes per segment of up to 64 KiB on loopback, ~0.1 %), and ACKs flow too; other
programs on this machine may also talk over `lo`. So the check is one-sided and
honest about it: never less than the payload, at most 1 % more. A second check ties
the integrated rates to /proc/net/dev, read independently at the same ticks.
"""

import queue
import socket
import threading
import time

import pytest

from sysmond.collectors.registry import Registry
from sysmond.config import CollectionConfig

CHUNK = 64 << 20
CHUNKS = 3


def _proc_net_dev_lo_rx() -> int:
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                return int(rest.split()[0])
    raise LookupError("no lo in /proc/net/dev")


def _receiver(server: socket.socket, got: list[int]) -> None:
    conn, _ = server.accept()
    with conn:
        while data := conn.recv(1 << 20):
            got[0] += len(data)


@pytest.mark.slow
def test_the_lo_receive_rate_summed_over_a_window_gives_back_the_bytes_sent():
    registry = Registry.default(CollectionConfig(process_interval=60))
    server = socket.create_server(("127.0.0.1", 0))
    got = [0]
    receiver = threading.Thread(target=_receiver, args=(server, got), daemon=True)
    receiver.start()
    client = socket.create_connection(server.getsockname())
    orders: queue.SimpleQueue[bool] = queue.SimpleQueue()
    payload = b"\x5a" * CHUNK

    def send() -> None:
        while orders.get():
            client.sendall(payload)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    rates, monos, proc_rx = [], [], []
    start = time.monotonic()

    def tick(k: int) -> None:
        time.sleep(max(0.0, start + k - time.monotonic()))  # the 1 s cadence
        mono = time.monotonic()
        sample = registry.collect(wall=time.time(), mono=mono)
        proc_rx.append(_proc_net_dev_lo_rx())
        rates.append(sample.values["network.bytes_recv_per_sec@lo"])
        monos.append(mono)

    try:
        tick(0)
        tick(1)  # the window opens: rates valid from the next tick
        for k in range(CHUNKS):
            orders.put(True)
            tick(2 + k)
        deadline = time.monotonic() + 30
        while got[0] < CHUNK * CHUNKS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got[0] == CHUNK * CHUNKS
        tick(2 + CHUNKS)  # the window closes after the last byte arrived
    finally:
        orders.put(False)
        client.close()
        server.close()
    measured = sum(r * (m1 - m0) for r, m0, m1 in zip(rates[2:], monos[1:], monos[2:]))
    sent = CHUNK * CHUNKS
    assert sent <= measured <= sent * 1.01, (measured, sent)
    independent = proc_rx[-1] - proc_rx[1]
    assert abs(measured - independent) <= 0.001 * independent
    assert sum(r > CHUNK / 4 for r in rates[2:]) >= 2  # spread over several ticks
