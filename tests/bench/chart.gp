# SPDX-License-Identifier: MIT
# chart.gp: bench/chart.svg from bench/chart.dat, written by nmstore-bench.
# Every bar is the host's cost relative to the echo peer measured in the
# same run: 1 is the pipe's own limit, and higher is slower. Beside it, where
# the row has one, a lighter bar is the floor peer's cost on the same scale
# (the pipe plus SQLite committing the same rows): no SQLite-backed host can
# go below it. A red line marks the issue's target on the same scale, where
# there is one (for W1-W3 it is a multiple of the floor).
#   gnuplot -e "datafile='bench/chart.dat'; outfile='bench/chart.svg'; subtitle='...'" tests/bench/chart.gp
if (!exists("datafile")) datafile = 'bench/chart.dat'
if (!exists("outfile")) outfile = 'bench/chart.svg'
if (!exists("subtitle")) subtitle = ''

set terminal svg size 900,520 dynamic enhanced font 'sans,11' background rgb 'white'
set output outfile
set title "nmstore host against the echo peer (1 = the pipe's limit; lower is better)\n{/*0.8 ".subtitle."}"
set style fill solid 0.8 border -1
set logscale y 2
set yrange [0.5:64]
set xrange [-0.6:*]
set offsets 0, 0.6, 0, 0
set ylabel "cost relative to the echo peer (×)"
set grid ytics
set xtics noenhanced nomirror font 'sans,9' rotate by -25 left offset -1,0
set key outside bottom center horizontal
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 lc rgb '#555555'

# Columns: label, host cost, target, floor cost (NaN where not measured).
plot datafile using ($0-0.16):2:(0.32):xtic(1) with boxes title 'host / echo peer' lc rgb '#3b6ea5', \
     '' using ($0+0.16):4:(0.32) with boxes title 'floor peer (echo + SQLite) / echo peer' lc rgb '#9fc5e8', \
     '' using ($0-0.4):3:(0.8):(0) with vectors nohead lw 3 lc rgb '#c0392b' title 'target (same scale)', \
     '' using ($0-0.16):2:(sprintf('%.2f', $2)) with labels offset 0,0.8 font 'sans,9' notitle
