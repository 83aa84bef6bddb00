complete -c can-bridge -l from -d 'Source bus' -r
complete -c can-bridge -l to -d 'Destination bus' -r
complete -c can-bridge -l serve -d 'Serve the --from bus to socketcand clients instead of bridging to --to (both ways): socketcand:[HOST][:PORT][,max_clients=N,queue=N,name=BUS,fdframe=on]; HOST defaults to 127.0.0.1, PORT to 29536' -r
complete -c can-bridge -l filter-to -d 'Only frames passing these filters go to --to (as --filter; repeatable)' -r
complete -c can-bridge -l filter-from -d 'Only frames passing these filters go back to --from (with --both-ways)' -r
complete -c can-bridge -l map-id -d 'Rewrite ids going to --to: FROM=TO, or FROM:MASK=TO to move the bits of MASK (hex; 3 digits 11-bit, 8 digits 29-bit; repeatable, first match wins)' -r
complete -c can-bridge -l map-id-back -d 'Rewrite ids going back to --from (as --map-id; with --both-ways)' -r
complete -c can-bridge -l rate-limit -d 'At most N frames a second in each direction (e.g. 1000 or 1000/s); frames over it are dropped and counted' -r
complete -c can-bridge -l stats -d 'Print what was forwarded, filtered and dropped on stderr this often (e.g. 5s)' -r
complete -c can-bridge -s d -l duration -d 'Stop after this long (e.g. 10s, 5m, 1h30m)' -r
complete -c can-bridge -s i -l interface -d 'Interface [default: virtual]' -r -f -a "virtual\t'a bus shared by the processes of this host that open the same channel name'
udp_multicast\t'python-can\'s UDP multicast bus (IPv4 or IPv6 group as the channel)'
socketcan\t'Linux SocketCAN network interfaces (can0, vcan0, any)'
cannelloni\t'cannelloni\'s CAN over UDP/TCP (the peer HOST:PORT as the channel)'
slcan\t'serial-line adapters (CANable, CANtact, USBtin, slcanpty): a serial port, PORT[@BAUD]'
socketcand\t'a bus served by socketcand over TCP (HOST:PORT/BUS)'"
complete -c can-bridge -s c -l channel -d 'Channel: a virtual bus name, a multicast group, a network interface [default: vcan0]; repeatable where a tool reads several buses. As in candump, filters may follow a comma: `-c can0,123:7FF`' -r
complete -c can-bridge -s b -l bitrate -d 'Nominal bitrate in bit/s, where the interface sets it' -r
complete -c can-bridge -l data-bitrate -d 'CAN FD data-phase bitrate in bit/s' -r
complete -c can-bridge -l bus-opt -d 'Backend option (repeatable): virtual: send_timeout= (how long a send waits for a slow receiver, e.g. 1s); udp_multicast: port= (UDP port, default 43113), hop_limit= (multicast TTL / hop limit, default 1); socketcan: timestamps= (hardware: the adapter\'s clock), rcvbuf= (receive buffer in bytes, default 8 MiB; 0 keeps the system\'s); cannelloni: transport= (udp (default) or tcp), local= (UDP: the address to bind, default 127.0.0.1:20000 ([::1]:20000 for an IPv6 peer)), listen= (TCP: be the server on this ADDR:PORT instead of connecting to the channel), allow= (peers accepted, IP or IP:PORT separated by commas, or \'any\'; default the channel\'s address), batch_us= (UDP: wait up to this many µs for more frames to share a datagram, default 0), max_datagram= (UDP: largest datagram sent in bytes (75 to 65507), default 1472); slcan: serial_baud= (the serial port\'s baud rate, default 115200; USB adapters ignore it), btr= (custom bit timing: BTR0 and BTR1 of an SJA1000 at 8 MHz, 4 hex digits, sent as s), listen_only= (true: open with L, receive only), timestamps= (device: the adapter\'s millisecond timestamps, Z1, instead of the host\'s), timeout= (seconds an adapter may stay silent while a command awaits its answer, default 2), poll= (seconds between status-flag polls, default 1; 0 never polls), window= (commands sent ahead of the adapter\'s answers, default 6; 0 waits for none); socketcand: timeout= (seconds to connect and for each handshake answer, default 5), fdframe= (on: CAN FD through the proposed fdframe/sendfd extension)' -r
complete -c can-bridge -l config -d 'Config file [default: $XDG_CONFIG_HOME/cankit/config.toml, /etc/cankit/config.toml]' -r -F
complete -c can-bridge -l profile -d 'Use this profile of the config file' -r
complete -c can-bridge -l filter -d 'Only frames matching ID:MASK, none matching ID~MASK, error classes #MASK (comma lists, repeatable; 3 hex digits = 11-bit id, 8 = 29-bit)' -r
complete -c can-bridge -s n -l count -d 'Stop after forwarding N frames (both directions together)' -r
complete -c can-bridge -l both-ways -d 'Also forward from --to back to --from'
complete -c can-bridge -l fd -d 'Configure the interface for CAN FD'
complete -c can-bridge -l no-config -d 'Ignore the config file and the CAN_* environment variables'
complete -c can-bridge -s v -l verbose -d 'More messages on stderr (repeat for more)'
complete -c can-bridge -s q -l quiet -d 'Fewer messages on stderr (-q: errors only, -qq: nothing)'
complete -c can-bridge -s h -l help -d 'Print help (see more with \'--help\')'
complete -c can-bridge -s V -l version -d 'Print version'
