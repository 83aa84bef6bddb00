complete -c can-convert -l input-format -d 'Input format when the file name does not tell it' -r -f -a "blf\t'Vector binary logging format'
asc\t'Vector ASCII log'
log\t'can-utils candump log (candump -L); BUSMASTER logs are read too'
csv\t'python-can CSV'
db\t'python-can SQLite database'
trc\t'PEAK trace'
jsonl\t'JSON Lines, one object per frame'
pcapng\t'pcapng capture of SocketCAN frames, as Wireshark opens it (classic pcap is read too)'
mf4\t'ASAM MDF 4 bus logging (CANedge, asammdf, python-can)'"
complete -c can-convert -l output-format -d 'Output format when the file name does not tell it' -r -f -a "blf\t'Vector binary logging format'
asc\t'Vector ASCII log'
log\t'can-utils candump log (candump -L); BUSMASTER logs are read too'
csv\t'python-can CSV'
db\t'python-can SQLite database'
trc\t'PEAK trace'
jsonl\t'JSON Lines, one object per frame'
pcapng\t'pcapng capture of SocketCAN frames, as Wireshark opens it (classic pcap is read too)'
mf4\t'ASAM MDF 4 bus logging (CANedge, asammdf, python-can)'"
complete -c can-convert -l format-opt -d 'Output format option (repeatable): blf: compression= (zlib level 0 (stored) to 9, default 6); log: digits= (6 or 9 decimals in the timestamp, default 6), direction= (true or false: the R/T suffix, default true); csv: layout= (python (python-can\'s columns) or rich); mf4: compression= (0 (none, default) or a deflate level 1-9 (DZ blocks))' -r
complete -c can-convert -l filter -d 'Keep only frames matching ID:MASK, drop ID~MASK (comma lists, repeatable)' -r
complete -c can-convert -l start -d 'Drop frames before this time' -r
complete -c can-convert -l end -d 'Drop frames at or after this time' -r
complete -c can-convert -l dbc -d 'DBC file for --decode (repeatable; a later file\'s message replaces an earlier one with the same id)' -r -F
complete -c can-convert -l force -d 'Overwrite an existing output file'
complete -c can-convert -s a -l append -d 'Append to an existing output file'
complete -c can-convert -l no-progress -d 'Never show a progress bar'
complete -c can-convert -l decode -d 'Write decoded signals instead of frames: JSON Lines (one object per frame) or CSV (a row per signal; one column per signal with --format-opt layout=wide)'
complete -c can-convert -s v -l verbose -d 'More messages on stderr (repeat for more)'
complete -c can-convert -s q -l quiet -d 'Fewer messages on stderr (-q: errors only, -qq: nothing)'
complete -c can-convert -s h -l help -d 'Print help (see more with \'--help\')'
complete -c can-convert -s V -l version -d 'Print version'
