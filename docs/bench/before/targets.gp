# gnuplot script written by macho bench; data in targets.dat
set terminal svg size 1200,2020 dynamic font 'sans,9'
set output 'targets.svg'
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set xtics rotate by -40 scale 0 font ',8'
set grid ytics
set key top right
set bmargin 9
set multiplot layout 5,1 title 'macho bench (targets): throughput per cell, memory per entry'
set logscale y
set ylabel 'Mops/s (median of rounds, log scale)'
set title 'zipf0.99, 100 % gets, key space = capacity (hits), capacity 10000, 10000 keys, 8 B keys, 8 B values'
plot 'targets.dat' index 0 using 2:xtic(1) title '1 thread', '' index 0 using 3 title '2 threads'
set title 'zipf0.99, 95 % gets, key space > capacity (misses, evictions), capacity 100000, 1000000 keys, 8 B keys, 8 B values'
plot 'targets.dat' index 1 using 2:xtic(1) title '1 thread', '' index 1 using 3 title '2 threads'
set title 'zipf0.99, 50 % gets, key space > capacity (misses, evictions), capacity 100000, 1000000 keys, 8 B keys, 8 B values'
plot 'targets.dat' index 2 using 2:xtic(1) title '1 thread', '' index 2 using 3 title '2 threads'
set title 'zipf0.99, 100 % gets, key space = capacity (hits), capacity 1000000, 1000000 keys, 8 B keys, 8 B values'
plot 'targets.dat' index 3 using 2:xtic(1) title '1 thread', '' index 3 using 3 title '2 threads'
unset logscale y
set ylabel 'bytes per entry beyond key + value'
set title 'memory, 8 B keys, 8 B values'
plot 'targets.dat' index 4 using 2:xtic(1) title 'RSS delta', '' index 4 using 3 title 'own figure'
unset multiplot
