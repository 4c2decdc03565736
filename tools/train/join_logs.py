"""Join the log.csv of a run and of a second run started from its weights (--init-from) into
one log: the second run's step, minutes and tokens continue from the first run's last row.

    /usr/bin/python3 tools/train/join_logs.py RUN/log.csv RUN2/log.csv > BOTH.csv
"""
import csv
import sys


def main():
    first = list(csv.reader(open(sys.argv[1])))
    second = list(csv.reader(open(sys.argv[2])))
    if first[0] != second[0]:
        sys.exit("the two logs have different columns")
    step0, minutes0, tokens0 = int(first[-1][0]), float(first[-1][1]), int(first[-1][2])
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerows(first)
    for row in second[1:]:
        out.writerow([str(int(row[0]) + step0), f"{float(row[1]) + minutes0:.2f}",
                      str(int(row[2]) + tokens0)] + row[3:])


if __name__ == "__main__":
    main()
