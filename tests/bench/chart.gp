# chart.gp: bench/chart.svg from bench/chart.dat, written by nmstore-bench.
# Every bar is the host's cost relative to the echo peer measured in the
# same run: 1 is the pipe's own limit, and higher is slower. A cross marks
# the issue's target on the same scale, where there is one.
#   gnuplot -e "datafile='bench/chart.dat'; outfile='bench/chart.svg'; subtitle='...'" tests/bench/chart.gp
if (!exists("datafile")) datafile = 'bench/chart.dat'
if (!exists("outfile")) outfile = 'bench/chart.svg'
if (!exists("subtitle")) subtitle = ''

set terminal svg size 900,480 dynamic enhanced font 'sans,11' background rgb 'white'
set output outfile
set title "nmstore host against the echo peer (1 = the pipe's limit; lower is better)\n{/*0.8 ".subtitle."}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.8
set logscale y 2
set yrange [0.5:*]
set ylabel "cost relative to the echo peer (×)"
set grid ytics
set xtics rotate by -30 left noenhanced
set key top left
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 lc rgb '#555555'

plot datafile using 2:xtic(1) title 'host / echo peer' lc rgb '#3b6ea5', \
     '' using ($0):3 with points pt 2 ps 2 lw 2 lc rgb '#c0392b' title 'target', \
     '' using ($0):2:(sprintf('%.2f', $2)) with labels offset 0,0.8 notitle
