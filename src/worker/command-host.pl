#!/usr/bin/perl
# queuectl command host: the small process that starts a worker's commands and watches them.
#
# Why Perl: starting a process from Node forks the whole Node process and blocks its thread until the
# child has exec'd; in a worker that cost more CPU per job than the queue's own SQL. This host forks a
# 5 MB interpreter instead, away from the worker's thread, and uses only perl-base, which every Debian and
# Ubuntu image has (it is "Essential"), as does macOS. Where there is no perl, the worker starts
# commands itself (run-command.ts), with the same rules. command-runner.ts is the other end.
#
# The rules are those of run-command.ts: `/bin/sh -c COMMAND` in a session (and process group) of its
# own, stdin /dev/null, stdout and stderr into one pipe of which the last LIMIT bytes are kept; a
# timeout or a terminate ends the group with SIGTERM, then SIGKILL after a grace period; when the
# shell exits, what it left in its group gets the same; a command is over when the shell has exited,
# its output pipe is drained and nothing of its group is left.
#
# If the worker goes away (stdin closes: it exited, crashed or was killed with SIGKILL), the host ends
# every running command the same way and exits: their jobs are rescued and retried elsewhere, and the
# old run must not go on beside the new one.
#
# The lease: each command runs only as long as its worker keeps renewing the job's lease. The worker
# gives a deadline with the command and moves it on after each heartbeat that extended the lease; the
# deadline falls well before the lease itself runs out in the database. Past it, the host kills the
# command's group with SIGKILL: a worker that is frozen (SIGSTOP), cut off from the database or gone
# cannot renew, and the rescuer hands the job to another worker only after the lease has run out, so
# the old run is over before a new one can start. (A host frozen together with its worker cannot do
# this; see docs/architecture.md.)
#
# Started as: command-host.pl KILL_GRACE_MS [UID GID] (how long a group gets between SIGTERM and
# SIGKILL; with UID and GID, every command runs as that user and group, with no other groups, while the
# host stays root so that it can always signal them: `worker start --run-as`).
#
# Protocol, on stdin/stdout; the worker's side is command-host-protocol.ts. Each message is a header
# line; some carry LEN bytes after it.
#   worker -> host
#     R KEY TIMEOUT_MS LIMIT LIVE LEASE_MS LEN\n  COMMAND \0 CWD \0 NAME=VALUE \0 NAME=VALUE ...  run
#                 (CWD empty: the host's; TIMEOUT_MS 0: none; LIVE 1: send output; LEASE_MS 0: no lease;
#                  the NAME=VALUE pairs are the command's whole environment: nothing of the host's is added)
#     L KEY LEASE_MS\n                   the lease now runs out LEASE_MS from now
#     T KEY\n                            terminate the group (SIGTERM, SIGKILL after the grace period)
#     S KEY SIGNUM\n                     send one signal to the group
#   host -> worker
#     P KEY PID\n                        started (exec'd) as process group PID
#     F KEY LEN\n STEP ERRNO             could not start: STEP (pipe, fork, user, cwd, exec) failed with ERRNO
#     O KEY LEN\n BYTES                  live output, at most every 100 ms, at most LIMIT bytes
#     E KEY EXIT SIGNUM ENDED_BY TOTAL LEN\n TAIL   ended (EXIT -1 when ended by a signal); TOTAL = bytes
#                                        seen; ENDED_BY 0 itself or T, 1 its timeout, 2 its lease
use strict;
use warnings;
use POSIX ();

my $KILL_GRACE_MS = $ARGV[0] // die "usage: command-host.pl KILL_GRACE_MS\n";
die "command-host.pl: KILL_GRACE_MS must be a whole number\n" unless $KILL_GRACE_MS =~ /\A\d+\z/;
my ($RUN_UID, $RUN_GID) = @ARGV[1, 2];
die "command-host.pl: UID and GID must be whole numbers\n" if defined $RUN_UID && !(defined $RUN_GID && "$RUN_UID $RUN_GID" =~ /\A\d+ \d+\z/);
my $FORWARD_INTERVAL_MS = 100;    # live output, as in the worker's log streaming
my $TICK_MS = 1000 / (POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100);

# A monotonic clock from perl-base alone (Time::HiRes is not in it): times(2), 10 ms resolution.
sub now_ms { return (POSIX::times())[0] * $TICK_MS }

# The worker's signals are for the worker: a SIGTERM/SIGINT sent to its whole process group (a
# terminal's Ctrl-C) must not kill the host under the commands the worker is finishing.
$SIG{TERM} = 'IGNORE';
$SIG{INT} = 'IGNORE';
# A write to a worker that has gone is an error to handle, not a reason to die with commands running.
$SIG{PIPE} = 'IGNORE';
# A handler (not the default) so that a child's exit interrupts select(); reaping happens in the loop.
$SIG{CHLD} = sub { };
# What a command leaves behind when its shell exits becomes this host's child, not PID 1's
# (PR_SET_CHILD_SUBREAPER, Linux): the host reaps it as it ends, so a group whose leftovers were
# killed is gone at once, whatever PID 1 does about zombies. prctl's number by architecture.
my %PRCTL = (x86_64 => 157, aarch64 => 167);
our $SUBREAPER = 0;
if ($^O eq 'linux' && (my $prctl = $PRCTL{ (POSIX::uname())[4] })) { $SUBREAPER = syscall($prctl, 36, 1, 0, 0, 0) == 0 }

# The commands' stdin.
open(my $null, '<', '/dev/null') or die "queuectl command host: /dev/null: $!\n";
my $NULL_FD = fileno($null);

my %jobs;      # KEY -> job
my %by_pid;    # PID -> KEY
my $inbuf = '';
my $worker_gone = 0;

sub send_msg {
    my ($header, $body) = @_;
    return if $worker_gone;
    my $msg = defined $body ? "$header " . length($body) . "\n" . $body : "$header\n";
    while (length $msg) {
        my $n = syswrite(STDOUT, $msg);
        if (!defined $n) {
            next if $!{EINTR};
            worker_went_away();
            return;
        }
        substr($msg, 0, $n, '');
    }
}

sub signal_group {
    my ($job, $sig) = @_;
    # kill dies on a signal name or number this system does not know; a bad `kill --signal` must not
    # take the host and every command it watches down with it.
    return eval { kill($sig, -$job->{pid}) } || 0;
}

# Whether anything of the job's process group still runs. A zombie does not count: where the host
# could not become the subreaper (not Linux, or an architecture missing from %PRCTL), what the shell
# left behind is reparented to PID 1, which may take its time to reap it, or never do. On Linux /proc
# tells zombies apart; it is read only when kill says the group exists, which is rare once the shell
# has exited. The same rule as groupAlive in run-command.ts.
sub group_alive {
    my ($job) = @_;
    return 0 unless signal_group($job, 0);
    return 1 if $^O ne 'linux' || $SUBREAPER;
    opendir(my $proc, '/proc') or return 1;
    for my $name (readdir $proc) {
        next unless $name =~ /\A\d+\z/;
        open(my $fh, '<', "/proc/$name/stat") or next;
        my $stat = <$fh> // next;
        # After "(comm)": state, ppid, pgrp, ...
        my ($state, undef, $pgrp) = split / /, substr($stat, rindex($stat, ')') + 2), 4;
        return 1 if $pgrp == $job->{pid} && $state ne 'Z';
    }
    return 0;
}

sub terminate {
    my ($job) = @_;
    return if $job->{terminating};
    $job->{terminating} = 1;
    signal_group($job, 'TERM');
    $job->{kill_at} //= now_ms() + $KILL_GRACE_MS;
}

sub worker_went_away {
    $worker_gone = 1;
    terminate($_) for values %jobs;
}

sub start_command {
    my ($key, $timeout_ms, $limit, $live, $lease_ms, $payload) = @_;
    my ($command, $cwd, @env) = split /\0/, $payload, -1;
    my ($out_r, $out_w, $err_r, $err_w);
    # Perl opens these close-on-exec: the command inherits only what dup2 puts on 1 and 2.
    unless (pipe($out_r, $out_w) && pipe($err_r, $err_w)) {
        send_msg("F $key", 'pipe ' . ($! + 0));
        return;
    }
    my %env = map { split /=/, $_, 2 } @env;
    my $out_fd = fileno($out_w);
    my ($pid, $why);
    {
        # Until its exec the child shares this process's pages, and each page either of them writes
        # meanwhile is copied first. So the job's environment is set here before the fork (and put
        # back after the exec, by local), the child does little, and this process waits for the exec
        # before it goes on: waiting costs less CPU than the copies. The command also leads its own
        # group by the time this returns.
        local %ENV = %env;
        $pid = fork();
        # undef is a failed fork (EAGAIN at a process limit): this process must not go on as the child.
        if (defined $pid && $pid == 0) {
            # Ignored signals stay ignored across exec: the command gets the defaults back.
            @SIG{qw(TERM INT PIPE)} = ('DEFAULT') x 3;
            POSIX::setsid();
            if (defined $RUN_UID) {
                # Groups first (setting $) to "GID GID" also sets the supplementary groups to just
                # GID), then the user: once the uid is dropped, nothing of root's can be taken back.
                $) = "$RUN_GID $RUN_GID";
                POSIX::setgid($RUN_GID);
                POSIX::setuid($RUN_UID);
                if ($< != $RUN_UID || $> != $RUN_UID || $( + 0 != $RUN_GID) {
                    syswrite($err_w, 'user ' . ($! + 0));
                    POSIX::_exit(127);
                }
            }
            if ($cwd ne '' && !chdir $cwd) {
                syswrite($err_w, 'cwd ' . ($! + 0));
                POSIX::_exit(127);
            }
            POSIX::dup2($NULL_FD, 0);
            POSIX::dup2($out_fd, 1);
            POSIX::dup2($out_fd, 2);
            { exec { '/bin/sh' } '/bin/sh', '-c', $command }
            syswrite($err_w, 'exec ' . ($! + 0));
            POSIX::_exit(127);
        }
        $why = 'fork ' . ($! + 0) unless defined $pid;
        close $err_w;
        # The status pipe closes at the exec, or carries why there was none.
        1 while defined $pid && !defined sysread($err_r, $why, 4096) && $!{EINTR};
    }
    close $out_w;
    close $err_r;
    if (length $why) {
        waitpid($pid, 0) if defined $pid;
        close $out_r;
        send_msg("F $key", $why);
        return;
    }
    send_msg("P $key $pid");
    $jobs{$key} = {
        key => $key, pid => $pid, out => $out_r, limit => $limit, live => $live,
        tail => '', total => 0, live_buf => '', live_due => undef,
        timeout_at => $timeout_ms > 0 ? now_ms() + $timeout_ms : undef,
        lease_at => $lease_ms > 0 ? now_ms() + $lease_ms : undef,
    };
    $by_pid{$pid} = $key;
}

sub read_output {
    my ($job) = @_;
    my $n = sysread($job->{out}, my $chunk, 65536);
    return if !defined $n && $!{EINTR};
    if (!$n) {
        close $job->{out};
        delete $job->{out};
        return;
    }
    $job->{total} += $n;
    my $limit = $job->{limit};
    return if $limit <= 0;
    $job->{tail} .= $chunk;
    substr($job->{tail}, 0, length($job->{tail}) - $limit, '') if length($job->{tail}) > $limit;
    if ($job->{live}) {
        $job->{live_buf} .= $chunk;
        substr($job->{live_buf}, 0, length($job->{live_buf}) - $limit, '') if length($job->{live_buf}) > $limit;
        $job->{live_due} //= now_ms() + $FORWARD_INTERVAL_MS;
    }
}

# Reading the worker's messages. A header line first; an R message's payload of LEN bytes is then
# gathered as a list of chunks and joined once, so a large payload costs time in proportion to its
# size (appending each chunk to one growing string copied it again and again).
my @payload_chunks;
my $payload_have = 0;
my @pending_run;    # the R header whose payload is being read

sub handle_line {
    my @f = split / /, $_[0];
    if (($f[0] // '') eq 'R') {
        @pending_run = @f[1 .. 6];
        return;
    }
    return unless @f >= 2;
    my $job = $jobs{ $f[1] } or return;
    if ($f[0] eq 'T') { terminate($job) }
    elsif ($f[0] eq 'S' && ($f[2] // '') =~ /\A[1-9]\d*\z/) { signal_group($job, $f[2]) }
    elsif ($f[0] eq 'L' && ($f[2] // '') =~ /\A\d+\z/) { $job->{lease_at} = now_ms() + $f[2] }
}

sub read_worker {
    my $n = sysread(STDIN, my $chunk, 65536);
    return if !defined $n && $!{EINTR};
    if (!$n) {
        worker_went_away();
        return;
    }
    while (length $chunk) {
        if (@pending_run) {
            my $need = $pending_run[5] - $payload_have;
            my $part = substr($chunk, 0, $need, '');
            push @payload_chunks, $part;
            $payload_have += length $part;
            next if $payload_have < $pending_run[5];
            my @run = @pending_run[0 .. 4];
            @pending_run = ();
            my $payload = join('', @payload_chunks);
            @payload_chunks = ();
            $payload_have = 0;
            start_command(@run, $payload);
            next;
        }
        my $nl = index($chunk, "\n");
        if ($nl < 0) {
            $inbuf .= $chunk;
            last;
        }
        my $line = $inbuf . substr($chunk, 0, $nl);
        substr($chunk, 0, $nl + 1, '');
        $inbuf = '';
        handle_line($line);
    }
}

sub reap_children {
    while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
        my $key = delete $by_pid{$pid};
        next unless defined $key && $jobs{$key};
        $jobs{$key}{status} = $?;
    }
}

sub flush_live {
    my ($job) = @_;
    $job->{live_due} = undef;
    send_msg("O $job->{key}", $job->{live_buf}) if length $job->{live_buf};
    $job->{live_buf} = '';
}

# Timers, and the end of each command. Returns how long select() may sleep (seconds, undef = until
# something happens).
sub tend_jobs {
    my $now = now_ms();
    my $wait;
    my $soon = sub { my $ms = $_[0] > 0 ? $_[0] : 0; $wait = $ms if !defined $wait || $ms < $wait };
    for my $job (values %jobs) {
        my $key = $job->{key};
        if (defined $job->{timeout_at} && !$job->{timed_out}) {
            if ($now >= $job->{timeout_at}) {
                $job->{timed_out} = 1;
                terminate($job);
            } else {
                $soon->($job->{timeout_at} - $now);
            }
        }
        if (defined $job->{lease_at} && !$job->{killed}) {
            if ($now >= $job->{lease_at}) {
                # The lease is about to run out in the database: no grace period, the group must be
                # gone before the rescuer can hand the job to another worker.
                signal_group($job, 'KILL');
                $job->{killed} = 1;
                $job->{lease_lost} = 1 unless defined $job->{status};
            } else {
                $soon->($job->{lease_at} - $now);
            }
        }
        if (defined $job->{kill_at} && !$job->{killed}) {
            if ($now >= $job->{kill_at}) {
                signal_group($job, 'KILL');
                $job->{killed} = 1;
            } else {
                $soon->($job->{kill_at} - $now);
            }
        }
        if (defined $job->{live_due}) {
            if ($now >= $job->{live_due}) { flush_live($job) }
            else { $soon->($job->{live_due} - $now) }
        }
        if (defined $job->{status} && !$job->{shell_exit_seen}) {
            $job->{shell_exit_seen} = 1;
            # What the shell left in its group (`cmd &`) would keep the job running: the job is the tree.
            if (group_alive($job)) {
                signal_group($job, 'TERM');
                $job->{kill_at} //= $now + $KILL_GRACE_MS;
            }
        }
        if (!defined $job->{status}) {
            # Output ended but the shell not reaped yet: its exit is a moment away (or it closed its
            # output and runs on, which a slower poll finds).
            $soon->($job->{out} ? 250 : 10);
            next;
        }
        if ($job->{out}) { $soon->(250); next }
        if (group_alive($job)) { $soon->(50); next }
        my $status = $job->{status};
        my $exit = POSIX::WIFEXITED($status) ? POSIX::WEXITSTATUS($status) : -1;
        my $sig = POSIX::WIFSIGNALED($status) ? POSIX::WTERMSIG($status) : 0;
        my $ended_by = $job->{timed_out} ? 1 : $job->{lease_lost} ? 2 : 0;
        send_msg("E $key $exit $sig $ended_by $job->{total}", $job->{tail});
        delete $jobs{$key};
    }
    return defined $wait ? $wait / 1000 : undef;
}

while (1) {
    my $wait = tend_jobs();
    last if $worker_gone && !%jobs;
    my $rin = '';
    vec($rin, 0, 1) = 1 unless $worker_gone;
    for my $job (values %jobs) {
        vec($rin, fileno($job->{out}), 1) = 1 if $job->{out};
    }
    my $n = select(my $rout = $rin, undef, undef, $wait);
    reap_children();
    next if $n <= 0;
    read_worker() if vec($rout, 0, 1);
    for my $job (values %jobs) {
        read_output($job) if $job->{out} && vec($rout, fileno($job->{out}), 1);
    }
}
exit 0;
