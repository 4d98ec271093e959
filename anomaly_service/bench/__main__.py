"""`python -m anomaly_service.bench {nab,stress,synthetic,throughput}`: print benchmark figures."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from anomaly_service.bench import nab, stress, synthetic, throughput
from anomaly_service.bench.nab_scoring import ProfileResult
from anomaly_service.detector import DetectorConfig


def _nab(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        config = DetectorConfig(
            onset_rule=args.onset_rule, novelty=args.novelty, consensus=not args.no_consensus
        )
        results, n_files, n_windows, cv, alone = nab.run(
            Path(args.data),
            Path(args.windows),
            Path(args.results_dir),
            args.profiles and Path(args.profiles),
            config,
            nab.cv_settings(config, fixed=args.cv_fixed) if args.cv or args.cv_fixed else None,
        )
    except nab.CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable data or an unwritable results directory
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    took = time.perf_counter() - started
    print(
        f"NAB: {n_files} files, {n_windows} labelled windows, "
        f"results in {args.results_dir} ({took:.1f} s)"
    )
    print(
        "anomaly_score = the detector's onset score; "
        "threshold optimised per profile over the corpus"
    )
    print(
        f"{'profile':<20} {'score':>7} {'threshold':>10} {'raw':>8} {'null':>7} "
        f"{'perfect':>8} {'TP':>4} {'FN':>4} {'FP':>5}"
    )
    for r in results:
        print(
            f"{r.profile:<20} {r.normalized:7.1f} {r.threshold:10.5f} {r.raw:8.2f} {r.null:7.1f} "
            f"{r.perfect:8.1f} {r.tp:4d} {r.fn:4d} {r.fp:5d}"
        )
    for r in alone:
        print(
            f"{r.profile:<20} {r.normalized:7.1f}    consensus alarms alone (threshold "
            f"{r.threshold}, chosen on nothing): TP {r.tp} FN {r.fn} FP {r.fp}"
        )
    if args.whole_history:
        ref = nab.whole_history_reference(
            Path(args.data),
            Path(args.windows),
            nab.load_profiles(args.profiles and Path(args.profiles)),
            config,
        )
        for r in ref:
            print(
                f"{r.profile:<20} {r.normalized:7.1f}    whole-history reference of the "
                f"consensus tests (binary): TP {r.tp} FN {r.fn} FP {r.fp}"
            )
    for c in cv:
        _print_cv(c)
    if args.holdout_data:
        return _holdout(args, results, config)
    return 0


def _holdout(args: argparse.Namespace, dev: list[ProfileResult], config: DetectorConfig) -> int:
    try:
        res = nab.transfer(
            dev,
            Path(args.holdout_data),
            Path(args.holdout_windows),
            nab.load_profiles(args.profiles and Path(args.profiles)),
            config,
        )
    except nab.CorpusError as exc:
        print(f"error: holdout: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: holdout: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print()
    print(f"holdout {args.holdout_data}: scored at the thresholds chosen above, and at its own")
    for t in res:
        a, b = t.at_dev_threshold, t.own_best
        print(
            f"{t.profile:<20} at threshold {a.threshold:.5f}: {a.normalized:6.1f} "
            f"(TP {a.tp} FN {a.fn} FP {a.fp}); own best {b.normalized:6.1f} at {b.threshold:.5f}"
        )
    return 0


def _stress(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        count = stress.write_corpus(out, seed=args.seed)
    except OSError as exc:
        print(f"error: {exc.filename or out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(
        f"stress corpus (seed {args.seed}): {count} files in {out / 'data'}, windows in "
        f"{out / 'windows.json'}; score it with `bench nab --data {out / 'data'} --windows "
        f"{out / 'windows.json'}`, or as --holdout-data of a nab-dev run"
    )
    return 0


def _print_cv(c: nab.CrossValidation) -> None:
    print()
    print(
        f"leave-one-category-out, {c.profile}: threshold (and setting) chosen on the other "
        "categories, applied to the held-out one"
    )
    print(
        f"{'held out':<24} {'files':>5} {'wins':>4} {'in-sample':>9} {'own-best':>8} "
        f"{'out-of-sample':>13} {'threshold':>9} {'TP':>3} {'FN':>3} {'FP':>4}  setting"
    )
    for f in c.folds:
        o = f.out_of_sample
        note = "" if f.windows else "  (no windows: FP raw " + f"{o.raw:.2f})"
        print(
            f"{f.held_out:<24} {f.files:5d} {f.windows:4d} {f.in_sample.normalized:9.1f} "
            f"{f.own_best.normalized:8.1f} {o.normalized:13.1f} {o.threshold:9.5f} "
            f"{o.tp:3d} {o.fn:3d} {o.fp:4d}  {f.setting}{note}"
        )
    print(
        f"{'mean over folds with windows':<35} {c.mean('in_sample'):9.1f} "
        f"{c.mean('own_best'):8.1f} {c.mean('out_of_sample'):13.1f}"
    )
    print(
        f"pooled: in-sample {c.in_sample.normalized:.1f} (threshold {c.in_sample.threshold:.5f}), "
        f"out-of-sample {c.pooled_out_of_sample:.1f} "
        f"(every fold's held-out raw score over the whole corpus' null..perfect)"
    )


def _synthetic(args: argparse.Namespace) -> int:
    config = DetectorConfig()
    started = time.perf_counter()
    cases = synthetic.run_cases(config, series=args.series)
    noise = synthetic.run_noise(config, series=args.noise_series, days=args.days)
    daily_noise, daily_case = synthetic.run_daily(
        config, series=args.noise_series, days=args.daily_days
    )
    cases.append(daily_case)
    noise.append(daily_noise)
    print(
        f"synthetic: level {synthetic.LEVEL}, sd {synthetic.SIGMA}, direction both, "
        f"open_after={config.open_after}, close_after={config.close_after} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    print(
        f"{'anomaly':<36} {'series':>6} {'recall':>7} {'precision':>9} "
        f"{'point recall':>12} {'median delay':>13}"
    )
    for c in cases:
        delay = (
            "-"
            if c.median_delay is None
            else f"{c.median_delay:.0f} pts ({c.median_delay * 5:.0f} s)"
        )
        print(
            f"{c.name:<36} {c.series:>6} {c.recall:7.2f} {c.precision:9.2f} "
            f"{c.point_recall:12.2f} {delay:>13}"
        )
    print(
        f"clean noise, {synthetic.POINTS_PER_DAY} points per series-day (one per 5 s; the daily "
        f"cycle runs {args.daily_days:g} days, amplitude 10 sd, its trough anomaly is on the last "
        "day):"
    )
    for n in noise:
        print(
            f"  {n.name:<20} {n.series_days:5.0f} series-days  {n.false_alerts:4d} false alerts  "
            f"{n.per_series_day:.2f} per series-day"
        )
    return 0


def _throughput(args: argparse.Namespace) -> int:
    rules = ("peak", "rest", "conformal") if args.rule == "all" else (args.rule,)
    for rule in rules:
        config = DetectorConfig(
            onset_rule=rule, novelty=args.novelty, consensus=not args.no_consensus
        )
        r = throughput.run(series=args.series, cycles=args.cycles, config=config)
        name = rule + (", novelty" if args.novelty else "")
        name += ", no consensus tier" if args.no_consensus else ", consensus tier"
        print(
            f"throughput (onset rule {name}): {r.series} series x {r.cycles} cycles in "
            f"{r.seconds:.2f} s = {r.updates_per_second:,.0f} series-updates/s "
            f"({r.ms_per_cycle:.1f} ms per cycle of {r.series}; per CPU second "
            f"{r.updates_per_cpu_second:,.0f}); state "
            f"{r.bytes_per_series} bytes per series "
            f"({r.bytes_per_series * r.series / 2**20:.1f} MiB for {r.series})"
        )
    return 0


def _novelty_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-consensus",
        action="store_true",
        help="the onset rule alone, without the consensus tier (detector/consensus.py)",
    )
    p.add_argument(
        "--novelty",
        action="store_true",
        help="with a calibrated rule (rest, conformal): the sequence-novelty confirmation on",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m anomaly_service.bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("nab", help="NAB-format quality: write result CSVs and print NAB scores")
    p.add_argument("--data", required=True, help="NAB data directory (<category>/<file>.csv)")
    p.add_argument("--windows", required=True, help="NAB combined_windows.json")
    p.add_argument("--results-dir", required=True, help="where to write <category>/<file>.csv")
    p.add_argument("--profiles", help="NAB profiles.json (default: the three standard profiles)")
    p.add_argument(
        "--cv",
        action="store_true",
        help="also run leave-one-category-out cross-validation (threshold and setting chosen "
        "on the other categories)",
    )
    p.add_argument(
        "--cv-fixed",
        action="store_true",
        help="leave-one-category-out with the threshold only chosen out-of-sample (the rule of "
        "--onset-rule alone, no other setting offered): a rule's own out-of-sample score",
    )
    p.add_argument(
        "--holdout-data",
        help="a second corpus, scored at the thresholds chosen on --data (needs --holdout-windows)",
    )
    p.add_argument("--holdout-windows", help="the second corpus' windows JSON")
    p.add_argument(
        "--whole-history",
        action="store_true",
        help="also score the consensus tier's tests recomputed over the whole history at every "
        "row (the published ensemble's way; slow): how far the tier's bounded state moves it",
    )
    p.add_argument(
        "--onset-rule",
        choices=("peak", "rest", "conformal"),
        default=DetectorConfig().onset_rule,
        help="the onset rule to score (default: the detector's)",
    )
    _novelty_flag(p)
    p.set_defaults(func=_nab)
    p = sub.add_parser("stress", help="write the seeded synthetic NAB-layout stress corpus")
    p.add_argument("--out", required=True, help="directory to write data/ and windows.json to")
    p.add_argument("--seed", type=int, default=16)
    p.set_defaults(func=_stress)
    p = sub.add_parser(
        "synthetic", help="generated anomalies: recall, precision, delay, false alerts"
    )
    p.add_argument("--series", type=int, default=40, help="series per anomaly type")
    p.add_argument("--noise-series", type=int, default=24, help="clean-noise series per noise kind")
    p.add_argument("--days", type=float, default=1.0, help="length of each clean series in days")
    p.add_argument(
        "--daily-days", type=float, default=3.0, help="length of the daily-cycle series in days"
    )
    p.set_defaults(func=_synthetic)
    p = sub.add_parser("throughput", help="series-updates per second")
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--cycles", type=int, default=200)
    p.add_argument(
        "--rule",
        choices=("peak", "rest", "conformal", "all"),
        default=DetectorConfig().onset_rule,
        help="onset rule to time (default: the detector's)",
    )
    _novelty_flag(p)
    p.set_defaults(func=_throughput)
    args = parser.parse_args(argv)
    rule = getattr(args, "onset_rule", None) or getattr(args, "rule", None)
    if getattr(args, "novelty", False) and rule not in ("rest", "conformal"):
        parser.error("--novelty needs a calibrated onset rule: rest or conformal")
    if getattr(args, "holdout_data", None) and not args.holdout_windows:
        parser.error("--holdout-data needs --holdout-windows")
    for name in ("series", "cycles", "noise_series"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if getattr(args, "days", 1.0) <= 0:
        parser.error("--days must be > 0")
    if getattr(args, "daily_days", 3.0) < 1:
        parser.error("--daily-days must be >= 1")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
