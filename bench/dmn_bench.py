"""The cost of one DMN decision evaluation: a 50-rule table, as a business rule task evaluates it.

    python bench/dmn_bench.py [--rules 50] [--calls 2000]

Builds a UNIQUE table of ``--rules`` rules over three inputs (a numeric range, a list of strings
and a don't-care), the matching rule last but one, and evaluates it ``--calls`` times with
``engine.bpmn.dmn.evaluate`` (parsed once, as the runtime caches a deployed version). Also times
parsing and validating the file. Prints one JSON object (microseconds per call, median of five
rounds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def table(rules: int) -> bytes:
    rows = "".join(
        f'<rule id="r{i}"><inputEntry id="r{i}a"><text>[{i * 10}..{i * 10 + 9}]</text></inputEntry>'
        f'<inputEntry id="r{i}b"><text>"c{i}","x{i}"</text></inputEntry><inputEntry id="r{i}c"><text>-</text></inputEntry>'
        f'<outputEntry id="r{i}o"><text>"r{i}"</text></outputEntry><outputEntry id="r{i}p"><text>{i}</text></outputEntry>'
        "</rule>" for i in range(rules))
    return ('<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="x">'
            '<decision id="bench" name="bench"><decisionTable id="t" hitPolicy="UNIQUE">'
            '<input id="i1" label="n"><inputExpression id="e1"><text>n</text></inputExpression></input>'
            '<input id="i2" label="cat"><inputExpression id="e2"><text>cat</text></inputExpression></input>'
            '<input id="i3" label="other"><inputExpression id="e3"><text>other</text></inputExpression></input>'
            '<output id="o1" name="name" /><output id="o2" name="num" />'
            f"{rows}</decisionTable></decision></definitions>").encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    from engine.bpmn import dmn

    xml = table(args.rules)
    t = time.perf_counter()
    errors = dmn.validate(xml)
    [decision] = dmn.parse(xml)
    parse_ms = (time.perf_counter() - t) * 1000
    assert not errors
    hit = args.rules - 2
    data = {"n": hit * 10 + 5, "cat": f"c{hit}", "other": 1}
    assert dmn.evaluate(decision, data).value == {"name": f"r{hit}", "num": hit}
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(args.calls):
            dmn.evaluate(decision, data)
        rounds.append((time.perf_counter() - t) / args.calls * 1e6)
    print(json.dumps({"rules": args.rules, "inputs": 3, "hit_policy": "UNIQUE",
                      "evaluate_us_per_call": round(statistics.median(rounds), 1),
                      "validate_and_parse_ms": round(parse_ms, 2)}))


if __name__ == "__main__":
    main()
