complete -c can-logger -s f -l file -l file-name -d 'Log file; \'-\' or none writes candump lines to stdout' -r -F
complete -c can-logger -l format -d 'Output format when the file name does not tell it (blf, asc, log, csv, db, trc, jsonl)' -r
complete -c can-logger -l format-opt -d 'Format option (repeatable), e.g. --format-opt compression=9, digits=9' -r
complete -c can-logger -s n -l count -d 'Stop after N frames' -r
complete -c can-logger -s d -l duration -d 'Stop after this long (e.g. 10s, 5m, 1h30m)' -r
complete -c can-logger -s i -l interface -d 'Interface: virtual, udp_multicast or socketcan [default: virtual]' -r
complete -c can-logger -s c -l channel -d 'Channel: a virtual bus name, a multicast group, a network interface [default: vcan0]' -r
complete -c can-logger -s b -l bitrate -d 'Nominal bitrate in bit/s, where the interface sets it' -r
complete -c can-logger -l data-bitrate -d 'CAN FD data-phase bitrate in bit/s' -r
complete -c can-logger -l bus-opt -d 'Backend option (repeatable): udp_multicast port=, hop_limit=; socketcan timestamps=hardware, rcvbuf=BYTES (default 8 MiB)' -r
complete -c can-logger -l filter -d 'Only frames matching ID:MASK, none matching ID~MASK, error classes #MASK (comma lists, repeatable; 3 hex digits = 11-bit id, 8 = 29-bit)' -r
complete -c can-logger -l config -d 'Config file [default: $XDG_CONFIG_HOME/cankit/config.toml, /etc/cankit/config.toml]' -r -F
complete -c can-logger -l profile -d 'Use this profile of the config file' -r
complete -c can-logger -l force -d 'Overwrite an existing file'
complete -c can-logger -s a -l append -d 'Append to an existing file'
complete -c can-logger -l fd -d 'Configure the interface for CAN FD'
complete -c can-logger -l no-config -d 'Ignore the config file and the CAN_* environment variables'
complete -c can-logger -s v -l verbose -d 'More messages on stderr (repeat for more)'
complete -c can-logger -s q -l quiet -d 'Fewer messages on stderr (-q: errors only, -qq: nothing)'
complete -c can-logger -s h -l help -d 'Print help'
complete -c can-logger -s V -l version -d 'Print version'
