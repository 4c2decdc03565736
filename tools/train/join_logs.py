"""Join the log.csv files of a chain of runs, each started from the previous one's weights
(--init-from), into one log: each run's step, minutes and tokens continue from the previous
run's last row.  LOG:STEPS keeps only that run's first STEPS steps (a run stopped early whose
checkpoint at STEPS the next run started from).

    /usr/bin/python3 tools/train/join_logs.py RUN/log.csv RUN2/log.csv[:375] ... > ALL.csv
"""
import csv
import sys


def read(arg):
    path, _, steps = arg.partition(":")
    rows = list(csv.reader(open(path)))
    if steps:
        rows = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= int(steps)]
    return rows


def main():
    logs = [read(a) for a in sys.argv[1:]]
    if not logs or any(log[0] != logs[0][0] for log in logs):
        sys.exit("usage: join_logs.py LOG[:STEPS]... (logs with the same columns)")
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(logs[0][0])
    step0, minutes0, tokens0 = 0, 0.0, 0
    for log in logs:
        for row in log[1:]:
            out.writerow([str(int(row[0]) + step0), f"{float(row[1]) + minutes0:.2f}",
                          str(int(row[2]) + tokens0)] + row[3:])
        last = log[-1]
        step0, minutes0, tokens0 = step0 + int(last[0]), minutes0 + float(last[1]), tokens0 + int(last[2])


if __name__ == "__main__":
    main()
