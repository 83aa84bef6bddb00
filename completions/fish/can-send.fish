complete -c can-send -s p -l period -d 'Send one frame every DURATION (e.g. 100ms), cycling through the list' -r
complete -c can-send -s I -l id-mode -d 'Ids: r random, i incrementing, or a fixed hex id' -r
complete -c can-send -s L -l len-mode -d 'Payload lengths: r random, i incrementing, or a fixed byte count' -r
complete -c can-send -s D -l data-mode -d 'Payloads: r random, i a frame counter, or fixed hex bytes (repeated to the length)' -r
complete -c can-send -s g -l gap -d 'Time between frames: a duration (1ms, 250us) or, as cangen, milliseconds; 0 = as fast as the bus takes them' -r
complete -c can-send -l rate -d 'Frames per second instead of a gap (e.g. 5000 or 5000/s)' -r
complete -c can-send -l seed -d 'Seed of the random parts (the same seed gives the same frames) [default: the time]' -r
complete -c can-send -s i -l interface -d 'Interface [default: virtual]' -r -f -a "virtual\t'a bus shared by the processes of this host that open the same channel name'
udp_multicast\t'python-can\'s UDP multicast bus (IPv4 or IPv6 group as the channel)'
socketcan\t'Linux SocketCAN network interfaces (can0, vcan0, any)'
cannelloni\t'cannelloni\'s CAN over UDP/TCP (the peer HOST:PORT as the channel)'
slcan\t'serial-line adapters (CANable, CANtact, USBtin, slcanpty): a serial port, PORT[@BAUD]'
socketcand\t'a bus served by socketcand over TCP (HOST:PORT/BUS)'"
complete -c can-send -s c -l channel -d 'Channel: a virtual bus name, a multicast group, a network interface [default: vcan0]; repeatable where a tool reads several buses. As in candump, filters may follow a comma: `-c can0,123:7FF`' -r
complete -c can-send -s b -l bitrate -d 'Nominal bitrate in bit/s, where the interface sets it' -r
complete -c can-send -l data-bitrate -d 'CAN FD data-phase bitrate in bit/s' -r
complete -c can-send -l bus-opt -d 'Backend option (repeatable): virtual: send_timeout= (how long a send waits for a slow receiver, e.g. 1s); udp_multicast: port= (UDP port, default 43113), hop_limit= (multicast TTL / hop limit, default 1); socketcan: timestamps= (hardware: the adapter\'s clock), rcvbuf= (receive buffer in bytes, default 8 MiB; 0 keeps the system\'s); cannelloni: transport= (udp (default) or tcp), local= (UDP: the address to bind, default 127.0.0.1:20000 ([::1]:20000 for an IPv6 peer)), listen= (TCP: be the server on this ADDR:PORT instead of connecting to the channel), allow= (peers accepted, IP or IP:PORT separated by commas, or \'any\'; default the channel\'s address), batch_us= (UDP: wait up to this many µs for more frames to share a datagram, default 0), max_datagram= (UDP: largest datagram sent in bytes (75 to 65507), default 1472); slcan: serial_baud= (the serial port\'s baud rate, default 115200; USB adapters ignore it), btr= (custom bit timing: BTR0 and BTR1 of an SJA1000 at 8 MHz, 4 hex digits, sent as s), listen_only= (true: open with L, receive only), timestamps= (device: the adapter\'s millisecond timestamps, Z1, instead of the host\'s), timeout= (seconds an adapter may stay silent while a command awaits its answer, default 2), poll= (seconds between status-flag polls, default 1; 0 never polls), window= (commands sent ahead of the adapter\'s answers, default 6; 0 waits for none); socketcand: timeout= (seconds to connect and for each handshake answer, default 5), fdframe= (on: CAN FD through the proposed fdframe/sendfd extension)' -r
complete -c can-send -l filter -d 'Only frames matching ID:MASK, none matching ID~MASK, error classes #MASK (comma lists, repeatable; 3 hex digits = 11-bit id, 8 = 29-bit)' -r
complete -c can-send -l config -d 'Config file [default: $XDG_CONFIG_HOME/cankit/config.toml, /etc/cankit/config.toml]' -r -F
complete -c can-send -l profile -d 'Use this profile of the config file' -r
complete -c can-send -s n -l count -d 'Send N frames in all, cycling through the list (default: each frame once, or forever with --period)' -r
complete -c can-send -s d -l duration -d 'Stop after this long; needs --period (e.g. 10s, 5m, 1h30m)' -r
complete -c can-send -l timed -d 'With frames from stdin: send candump log lines at their relative times (`candump -L can0 | can-send --timed -` replays as it goes)'
complete -c can-send -l generate -d 'Generate frames instead of sending FRAMEs: one every --gap (200ms by default, as cangen), until --count, --duration or Ctrl-C'
complete -c can-send -s e -l extended -d '29-bit ids'
complete -c can-send -l fd-frames -d 'CAN FD frames (the bus must carry FD: --fd on socketcan)'
complete -c can-send -l brs -d 'Bit-rate switch on the CAN FD frames'
complete -c can-send -s R -l remote -d 'Remote frames'
complete -c can-send -l fd -d 'Configure the interface for CAN FD'
complete -c can-send -l no-config -d 'Ignore the config file and the CAN_* environment variables'
complete -c can-send -s v -l verbose -d 'More messages on stderr (repeat for more)'
complete -c can-send -s q -l quiet -d 'Fewer messages on stderr (-q: errors only, -qq: nothing)'
complete -c can-send -s h -l help -d 'Print help (see more with \'--help\')'
complete -c can-send -s V -l version -d 'Print version'
