# SPDX-License-Identifier: MIT
# bash completion for portkit(1); installed as
# share/bash-completion/completions/portkit.
_portkit()
{
        local cur prev words cword
        _init_completion 2>/dev/null || {
                cur=${COMP_WORDS[COMP_CWORD]}
                prev=${COMP_WORDS[COMP_CWORD - 1]}
                words=("${COMP_WORDS[@]}")
                cword=$COMP_CWORD
        }
        local cmd="" sub="" i dashdash=0
        for ((i = 1; i < cword; i++)); do
                if [[ ${words[i]} == -- ]]; then
                        dashdash=$i
                        break
                fi
                if [[ -z $cmd && ${words[i]} != -* ]]; then
                        cmd=${words[i]}
                elif [[ $cmd == etf && -z $sub && ${words[i]} != -* ]]; then
                        sub=${words[i]}
                fi
        done
        # After `--`: the program and its arguments.
        if ((dashdash > 0)); then
                if ((cword == dashdash + 1)); then
                        COMPREPLY=($(compgen -c -- "$cur"))
                else
                        COMPREPLY=($(compgen -f -- "$cur"))
                fi
                return
        fi
        case $prev in
        --user) COMPREPLY=($(compgen -u -- "$cur")); return ;;
        --group | --groups) COMPREPLY=($(compgen -g -- "$cur")); return ;;
        --cwd | --chroot | --envdir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --pidfile) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --signal | --pdeathsig)
                COMPREPLY=($(compgen -W "$(kill -l | tr -s ' \t' '\n' | sed -n 's/^SIG//p') none" -- "$cur"))
                return ;;
        --format) COMPREPLY=($(compgen -W "w p" -- "$cur")); return ;;
        --packet) COMPREPLY=($(compgen -W "1 2 4" -- "$cur")); return ;;
        --rlimit)
                COMPREPLY=($(compgen -W "AS= CORE= CPU= DATA= FSIZE= LOCKS= MEMLOCK= MSGQUEUE= NICE= NOFILE= NPROC= RSS= RTPRIO= RTTIME= SIGPENDING= STACK=" -- "$cur"))
                compopt -o nospace 2>/dev/null
                return ;;
        --fd)
                if [[ $cur == *=* ]]; then
                        local n=${cur%%=*}
                        COMPREPLY=($(compgen -P "$n=" -W "null close &0 &1 &2" -- "${cur#*=}")
                                $(compgen -P "$n=" -f -- "${cur#*=}"))
                fi
                return ;;
        --timeout | --kill-after | --env | --unset | --umask | --nice | --argv0 | --line | \
                --max-input | --max-output | --max-size | --max-depth | --minor-version)
                return ;;
        esac
        local opts
        case $cmd in
        "") opts="call etf run help --help --version" ;;
        help) opts="call etf run" ;;
        call) opts="--packet --line --stream --nouse-stdio --stderr-to-stdout --timeout --format
                    --raw --max-input --help --" ;;
        etf)
                case $sub in
                "") opts="decode encode --help" ;;
                decode) opts="--format --dot --max-output --max-size --max-depth --help" ;;
                encode) opts="--compressed --minor-version --deterministic --max-size --max-depth --help" ;;
                esac
                if [[ -n $sub && $cur != -* ]]; then
                        COMPREPLY=($(compgen -f -- "$cur"))
                        return
                fi ;;
        run) opts="--env --unset --clear-env --envdir --user --keep-user-env --group --groups
                   --keep-groups --clear-groups --ambient-caps --bounding-set --cwd --chroot --umask --nice --rlimit --setsid
                   --no-new-privs --argv0 --fd --timeout --signal --kill-after --foreground
                   --preserve-status --pdeathsig --pidfile --exec --help --" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _portkit portkit
