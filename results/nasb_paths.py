#!/usr/bin/env python3
"""Per epoch of a NASB search's alpha.jsonl: the most sampled op's share of an
edge's weight steps and the largest softmax(alpha), both averaged over the
edges, the edges whose most sampled op is alpha's argmax, and what uniform
sampling would give for both (the expected largest share of n draws over k
ops, exactly: P(max <= m) = n! [x^n] (sum_{i<=m} x^i / i!)^k / k^n).
   python3 results/nasb_paths.py RUN/search/alpha.jsonl"""
import json, math, sys


def uniform_max_share(n, k):
    def p_max_le(m):  # n! [x^n] (sum_{i<=m} x^i/i!)^k / k^n
        poly = [1.0]
        base = [1.0 / math.factorial(i) for i in range(m + 1)]
        for _ in range(k):
            out = [0.0] * min(len(poly) + m, n + 1)
            for a, pa in enumerate(poly):
                for b, pb in enumerate(base):
                    if a + b <= n:
                        out[a + b] += pa * pb
            poly = out
        return (poly[n] if n < len(poly) else 0.0) * math.factorial(n) / k ** n
    return sum(1.0 - p_max_le(m) for m in range(n)) / n  # E[max] = sum_m P(max > m)


def main(path):
    print("| epoch | most sampled op's share | largest softmax | edges where alpha's argmax is the most sampled op |")
    print("|---|---|---|---|")
    n = k = edges = 0
    for line in open(path):
        j = json.loads(line)
        a, s = j["alpha"], j["sampled"]
        share = top = agree = 0.0
        for ae, se in zip(a, s):
            m = max(ae)
            top += 1.0 / sum(math.exp(x - m) for x in ae)
            share += max(se) / sum(se)
            agree += max(range(len(se)), key=se.__getitem__) == max(range(len(ae)), key=ae.__getitem__)
        edges, n, k = len(a), sum(s[0]), len(a[0])
        print(f"| {j['epoch']} | {share / edges:.3f} | {top / edges:.3f} | {agree:.0f} of {edges} |")
    print(f"\nuniform sampling, {n} draws over {k} ops: largest share {uniform_max_share(n, k):.3f} on average, "
          f"argmax agreement {edges / k:.1f} of {edges} edges")


if __name__ == "__main__":
    main(sys.argv[1])
