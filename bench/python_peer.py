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


def pool_map_rate(pool, n, chunksize, runs):
    """Items per second of pool.map(plus_one, range(n)) on a started pool; None: the default
    chunksize (len / (4 * processes), rounded up)."""
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        out = pool.map(plus_one, range(n), chunksize)
        elapsed = time.perf_counter() - start
        assert len(out) == n and out[-1] == n
        rates.append(n / elapsed)
    return statistics.median(rates)


def cold_pool_map_rate(n, runs):
    """Items per second of Pool(2) created, then pool.map(plus_one, range(n)) (default
    chunksize): what bench's rp::map does, which spawns its workers in the call."""
    ctx = mp.get_context("fork")
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        with ctx.Pool(2) as pool:
            out = pool.map(plus_one, range(n))
            elapsed = time.perf_counter() - start
        assert len(out) == n and out[-1] == n
        rates.append(n / elapsed)
    return statistics.median(rates)


def imap_first_result(n, chunksize, samples, warm):
    """Seconds from pool.imap(plus_one, range(n), chunksize) until its first next() returns, on
    a new Pool(2) each sample: started and answering beforehand (warm) or created in the timing.
    Large chunks are consumed to the end: terminating a pool while its task thread is still
    writing a multi-megabyte chunk hangs (seen with 1.25 M-item chunks)."""
    ctx = mp.get_context("fork")
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        with ctx.Pool(2) as pool:
            if warm:
                assert pool.apply(plus_one, (1,)) == 2
                start = time.perf_counter()
            results = pool.imap(plus_one, range(n), chunksize)
            assert next(results) == 1
            times.append(time.perf_counter() - start)
            if chunksize > 1:
                for _ in results:
                    pass
    return statistics.median(times)


def map_reduce_figures(quick):
    """Pool(2).map of x -> x + 1 as bench's map figures: sizes and names match them."""
    big = 1000000 if quick else 10000000
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(plus_one, range(1000))  # both children forked and answering
        for n, runs in ((100000, 3 if quick else 5), (big, 1 if quick else 3)):
            print("python_pool2_map_%d_chunksize_default_items_per_second: %.3f items/s"
                  % (n, pool_map_rate(pool, n, None, runs)))
        # chunksize=1 runs at ~20 k items/s: fewer items (20 000 quick; 200 000 for the big one).
        for n in ((20000,) if quick else (100000, 200000)):
            print("python_pool2_map_%d_chunksize_1_items_per_second: %.3f items/s"
                  % (n, pool_map_rate(pool, n, 1, 1)))
    print("python_pool2_map_100000_chunksize_default_cold_items_per_second: %.3f items/s"
          % cold_pool_map_rate(100000, 3 if quick else 5))
    samples = 3 if quick else 7
    for warm in (True, False):
        t = imap_first_result(100000, 1, samples, warm)
        print("python_pool2_imap_first_result_chunksize_1_%s: %.3f ms" % ("warm" if warm else "cold", t * 1e3))
    # What map's default chunking costs in latency: imap with the chunksize map picks for `big`.
    chunk = -(-big // 8)
    t = imap_first_result(big, chunk, 1 if quick else 3, True)
    print("python_pool2_imap_first_result_chunksize_%d_warm: %.3f ms" % (chunk, t * 1e3))


def main():
    """Arguments as bench's: --quick, --only all|latency|streams|mapreduce; --only-latency:
    the Manager round trip alone (bench/run.sh's pinned pass)."""
    quick = "--quick" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else "all"
    if "--only-latency" in sys.argv:
        only = "latency"
    if only == "all":
        samples = 5 if quick else 20
        print("python_pool1_fork_first_answer_median: %.3f ms" % (pool_first_answer("fork", samples) * 1e3))
        print("python_pool1_spawn_first_answer_median: %.3f ms" % (pool_first_answer("spawn", samples) * 1e3))
    if only in ("all", "streams"):
        rates = [pipe_small_values(100000 if quick else 1000000) for _ in range(1 if quick else 3)]
        print("python_pipe_small_values_per_second: %.3f values/s" % statistics.median(rates))
    if only in ("all", "latency"):
        p50, p99 = manager_round_trip(2000 if quick else 20000)
        print("python_manager_round_trip_p50: %.3f us" % (p50 * 1e6))
        print("python_manager_round_trip_p99: %.3f us" % (p99 * 1e6))
    if only in ("all", "mapreduce"):
        map_reduce_figures(quick)


if __name__ == "__main__":
    main()
