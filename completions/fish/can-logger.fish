complete -c can-logger -s f -l file -l file-name -d 'Log file; \'-\' or none writes candump lines to stdout' -r -F
complete -c can-logger -s s -l file-size -d 'Start a new file before this one grows past SIZE: bytes, or kB MB GB (powers of 1000: 10MB is 10,000,000 bytes) or K M G, KiB MiB GiB (powers of 1024: 10M and 10MiB are 10,485,760 bytes)' -r
complete -c can-logger -l rotate-every -d 'Start a new file at every multiple of DURATION in UTC: 1h on the hour, 15m at :00, :15, :30 and :45, 1d at midnight UTC (whole seconds)' -r
complete -c can-logger -l keep -d 'With -s or --rotate-every: keep only the newest N files of this run, deleting its older ones (never a file it did not write)' -r
complete -c can-logger -l format -d 'Output format when the file name does not tell it' -r -f -a "blf\t'Vector binary logging format'
asc\t'Vector ASCII log'
log\t'can-utils candump log (candump -L); BUSMASTER logs are read too'
csv\t'python-can CSV'
db\t'python-can SQLite database'
trc\t'PEAK trace'
jsonl\t'JSON Lines, one object per frame'
pcapng\t'pcapng capture of SocketCAN frames, as Wireshark opens it (classic pcap is read too)'
mf4\t'ASAM MDF 4 bus logging (CANedge, asammdf, python-can)'"
complete -c can-logger -l format-opt -d 'Format option (repeatable): blf: compression= (zlib level 0 (stored) to 9, default 6); log: digits= (6 or 9 decimals in the timestamp, default 6), direction= (true or false: the R/T suffix, default true); csv: layout= (python (python-can\'s columns) or rich); mf4: compression= (0 (none, default) or a deflate level 1-9 (DZ blocks))' -r
complete -c can-logger -l dbc -d 'DBC file (repeatable) to decode with: on stdout, each frame a DBC message matches is followed by an indented line of its signals (`  Name: Signal=value unit, Other=Label (raw)`)' -r -F
complete -c can-logger -s n -l count -d 'Stop after N frames' -r
complete -c can-logger -s d -l duration -d 'Stop after this long (e.g. 10s, 5m, 1h30m)' -r
complete -c can-logger -s i -l interface -d 'Interface [default: virtual]' -r -f -a "virtual\t'a bus shared by the processes of this host that open the same channel name'
udp_multicast\t'python-can\'s UDP multicast bus (IPv4 or IPv6 group as the channel)'
socketcan\t'Linux SocketCAN network interfaces (can0, vcan0, any)'
cannelloni\t'cannelloni\'s CAN over UDP/TCP (the peer HOST:PORT as the channel)'
slcan\t'serial-line adapters (CANable, CANtact, USBtin, slcanpty): a serial port, PORT[@BAUD]'
socketcand\t'a bus served by socketcand over TCP (HOST:PORT/BUS)'"
complete -c can-logger -s c -l channel -d 'Channel: a virtual bus name, a multicast group, a network interface [default: vcan0]; repeatable where a tool reads several buses. As in candump, filters may follow a comma: `-c can0,123:7FF`' -r
complete -c can-logger -s b -l bitrate -d 'Nominal bitrate in bit/s, where the interface sets it' -r
complete -c can-logger -l data-bitrate -d 'CAN FD data-phase bitrate in bit/s' -r
complete -c can-logger -l bus-opt -d 'Backend option (repeatable): virtual: send_timeout= (how long a send waits for a slow receiver, e.g. 1s); udp_multicast: port= (UDP port, default 43113), hop_limit= (multicast TTL / hop limit, default 1); socketcan: timestamps= (hardware: the adapter\'s clock), rcvbuf= (receive buffer in bytes, default 8 MiB; 0 keeps the system\'s); cannelloni: transport= (udp (default) or tcp), local= (UDP: the address to bind, default 127.0.0.1:20000 ([::1]:20000 for an IPv6 peer)), listen= (TCP: be the server on this ADDR:PORT instead of connecting to the channel), allow= (peers accepted, IP or IP:PORT separated by commas, or \'any\'; default the channel\'s address), batch_us= (UDP: wait up to this many µs for more frames to share a datagram, default 0), max_datagram= (UDP: largest datagram sent in bytes (75 to 65507), default 1472); slcan: serial_baud= (the serial port\'s baud rate, default 115200; USB adapters ignore it), btr= (custom bit timing: BTR0 and BTR1 of an SJA1000 at 8 MHz, 4 hex digits, sent as s), listen_only= (true: open with L, receive only), timestamps= (device: the adapter\'s millisecond timestamps, Z1, instead of the host\'s), timeout= (seconds an adapter may stay silent while a command awaits its answer, default 2), poll= (seconds between status-flag polls, default 1; 0 never polls), window= (commands sent ahead of the adapter\'s answers, default 6; 0 waits for none); socketcand: timeout= (seconds to connect and for each handshake answer, default 5), fdframe= (on: CAN FD through the proposed fdframe/sendfd extension)' -r
complete -c can-logger -l config -d 'Config file [default: $XDG_CONFIG_HOME/cankit/config.toml, /etc/cankit/config.toml]' -r -F
complete -c can-logger -l profile -d 'Use this profile of the config file' -r
complete -c can-logger -l filter -d 'Only frames matching ID:MASK, none matching ID~MASK, error classes #MASK (comma lists, repeatable; 3 hex digits = 11-bit id, 8 = 29-bit)' -r
complete -c can-logger -s l -l candump-name -d 'As candump -l: log to candump-YYYY-MM-DD_HHMMSS.log (local time) in the current folder'
complete -c can-logger -l force -d 'Overwrite an existing file'
complete -c can-logger -s a -l append -d 'Append to an existing file'
complete -c can-logger -l fd -d 'Configure the interface for CAN FD'
complete -c can-logger -l no-config -d 'Ignore the config file and the CAN_* environment variables'
complete -c can-logger -s v -l verbose -d 'More messages on stderr (repeat for more)'
complete -c can-logger -s q -l quiet -d 'Fewer messages on stderr (-q: errors only, -qq: nothing)'
complete -c can-logger -s h -l help -d 'Print help (see more with \'--help\')'
complete -c can-logger -s V -l version -d 'Print version'
