"""The matmul ceiling of a recurrent layer on this machine.

A recurrent forward pass cannot beat (a) the chain of dependent per-step matmuls
h_t = f(h_{t-1} U), which no implementation can parallelise over time, plus (b) the
input projection x W. This script times both alone (no gate math), the chain also as two
independent loops over halves of the batch (which TF runs side by side, as seqcore's
parallel loops do), and a large square matmul for the machine's peak, so `rnn_speed.py`'s
GFLOP/s can be read against them. `floor ms` = the faster chain + x W.

Run: python benchmarks/matmul_ceiling.py [--shapes 64x100x64x128,32x500x32x256] [--gates 4]
"""

import argparse
import datetime
import platform
import statistics
import sys
import time


def median_ms(function, argument, repeats):
    function(argument).numpy()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(argument).numpy()
        samples.append(time.perf_counter() - start)
    return 1e3 * statistics.median(samples)


def measure(shape, gates, repeats):
    import tensorflow as tf

    batch, steps, inputs, units = shape
    rng = tf.random.Generator.from_seed(0)
    h0 = rng.normal((batch, units))
    kernel = rng.normal((inputs, gates * units))
    recurrent = rng.normal((units, gates * units)) * 0.01
    x = rng.normal((steps * batch, inputs))

    @tf.function
    def chain(h):
        def body(t, h):
            return t + 1, tf.matmul(h, recurrent)[:, :units]

        return tf.while_loop(lambda t, h: t < steps, body, (0, h))[1]

    @tf.function
    def split_chains(h):
        # The same chain over two halves of the batch: independent loops that TF's
        # inter-op threads run side by side (what seqcore's parallel loops do).
        def body(t, h):
            return t + 1, tf.matmul(h, recurrent)[:, :units]

        halves = tf.split(h, 2)
        return tf.concat(
            [tf.while_loop(lambda t, h: t < steps, body, (0, half))[1] for half in halves], 0
        )

    @tf.function
    def projection(x):
        return tf.matmul(x, kernel)

    chain_ms = median_ms(chain, h0, repeats)
    split_ms = median_ms(split_chains, h0, repeats) if batch >= 2 else float("nan")
    projection_ms = median_ms(projection, x, repeats)
    chain_flops = 2 * batch * units * gates * units * steps
    projection_flops = 2 * steps * batch * inputs * gates * units
    return {
        "shape": "x".join(map(str, shape)),
        "chain_ms": chain_ms,
        "chain_gflops": chain_flops / chain_ms / 1e6,
        "split_ms": split_ms,
        "projection_ms": projection_ms,
        "projection_gflops": projection_flops / projection_ms / 1e6,
        "floor_ms": min(chain_ms, split_ms) + projection_ms,
    }


def square_gflops(size, repeats):
    import tensorflow as tf

    a = tf.random.Generator.from_seed(1).normal((size, size))
    ms = median_ms(tf.function(lambda m: tf.matmul(m, m)), a, repeats)
    return 2 * size**3 / ms / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="64x100x64x128,32x500x32x256")
    parser.add_argument("--gates", type=int, default=4, help="4 LSTM, 3 GRU, 1 SimpleRNN")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    try:
        shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
        if any(len(s) != 4 or min(s) < 1 for s in shapes):
            raise ValueError
    except ValueError:
        print(f"Error: --shapes must be BxTxFxU[,...]. Received: {args.shapes}", file=sys.stderr)
        return 2
    import tensorflow as tf

    print(f"matmul_ceiling {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine {platform.platform()}, tensorflow {tf.__version__}, gates={args.gates}")
    print(f"2048x2048 matmul: {square_gflops(2048, args.repeats):.0f} GFLOP/s")
    header = ("shape", "h@U chain ms", "GF/s", "2 chains ms", "x@W ms", "GF/s", "floor ms")
    print("{:16} {:>13} {:>6} {:>12} {:>8} {:>6} {:>9}".format(*header))
    for shape in shapes:
        r = measure(shape, args.gates, args.repeats)
        print(
            f"{r['shape']:16} {r['chain_ms']:13.2f} {r['chain_gflops']:6.0f} "
            f"{r['split_ms']:12.2f} {r['projection_ms']:8.2f} "
            f"{r['projection_gflops']:6.0f} {r['floor_ms']:9.2f}"
        )
    print(f"rerun: python benchmarks/matmul_ceiling.py --shapes {args.shapes} --gates {args.gates}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
