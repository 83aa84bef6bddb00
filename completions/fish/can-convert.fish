complete -c can-convert -l input-format -d 'Input format when the file name does not tell it' -r
complete -c can-convert -l output-format -d 'Output format when the file name does not tell it' -r
complete -c can-convert -l format-opt -d 'Output format option (repeatable), e.g. compression=9, digits=9, layout=rich' -r
complete -c can-convert -l filter -d 'Keep only frames matching ID:MASK, drop ID~MASK (comma lists, repeatable)' -r
complete -c can-convert -l start -d 'Drop frames before this time' -r
complete -c can-convert -l end -d 'Drop frames at or after this time' -r
complete -c can-convert -l force -d 'Overwrite an existing output file'
complete -c can-convert -s a -l append -d 'Append to an existing output file'
complete -c can-convert -l no-progress -d 'Never show a progress bar'
complete -c can-convert -s v -l verbose -d 'More messages on stderr (repeat for more)'
complete -c can-convert -s q -l quiet -d 'Fewer messages on stderr (-q: errors only, -qq: nothing)'
complete -c can-convert -s h -l help -d 'Print help'
complete -c can-convert -s V -l version -d 'Print version'
