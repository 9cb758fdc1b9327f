#!/usr/bin/python3
"""The peer: Python multiprocessing doing what bench/bench does. Prints "name: value unit"."""
import multiprocessing as mp
import statistics
import sys
import time


def plus_one(x):
    return x + 1


def pool_first_answer(method, samples):
    ctx = mp.get_context(method)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        with ctx.Pool(1) as pool:
            assert pool.apply(plus_one, (1,)) == 2
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def manager_round_trip(calls):
    with mp.Manager() as manager:
        proxy = manager.dict()
        proxy["x"] = 1
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            proxy.get("x")
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)]


def send_ints(conn, n):
    conn.send("ready")
    for i in range(n):
        conn.send(i)
    conn.send(None)
    conn.close()


def pipe_small_values(n):
    """Values per second a child process sends through multiprocessing.Pipe, one int per send."""
    ctx = mp.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=send_ints, args=(writer, n))
    child.start()
    writer.close()
    assert reader.recv() == "ready"
    start = time.perf_counter()
    expected = 0
    while (v := reader.recv()) is not None:
        assert v == expected
        expected += 1
    elapsed = time.perf_counter() - start
    child.join()
    assert expected == n
    return n / elapsed


def main():
    quick = "--quick" in sys.argv
    if "--only-latency" not in sys.argv:
        samples = 5 if quick else 20
        print("python_pool1_fork_first_answer_median: %.3f ms" % (pool_first_answer("fork", samples) * 1e3))
        print("python_pool1_spawn_first_answer_median: %.3f ms" % (pool_first_answer("spawn", samples) * 1e3))
        rates = [pipe_small_values(100000 if quick else 1000000) for _ in range(1 if quick else 3)]
        print("python_pipe_small_values_per_second: %.3f values/s" % statistics.median(rates))
    p50, p99 = manager_round_trip(2000 if quick else 20000)
    print("python_manager_round_trip_p50: %.3f us" % (p50 * 1e6))
    print("python_manager_round_trip_p99: %.3f us" % (p99 * 1e6))


if __name__ == "__main__":
    main()
