#!/usr/bin/perl
# The command every job of the randomized checker runs: `perl recorder.pl HISTORY MODE MS EXIT`.
# It appends to the file HISTORY, one line per event, each line written with one append:
#   S JOB ATTEMPT PID T          started (T: wall clock in ms, microsecond precision)
#   E JOB ATTEMPT PID T EXIT     about to exit on its own with EXIT
#   O JOB ATTEMPT PID OTHER T    at its start, process OTHER of an earlier run of the same job was alive
# MODE: plain (sleep MS, exit EXIT), stubborn (ignores SIGTERM), spawner (leaves a child running in
# its process group, which the worker must end before the attempt counts as over).
use strict;
use warnings;
use Time::HiRes ();

my ($history, $mode, $ms, $exit) = @ARGV;
my $job = $ENV{QUEUECTL_JOB_ID} // '?';
my $attempt = $ENV{QUEUECTL_ATTEMPT} // '?';
my $now = sub { sprintf('%.3f', Time::HiRes::time() * 1000) };

sub record {
    open(my $fh, '>>', $history) or die "history: $!";
    syswrite($fh, "$_[0]\n");
    close $fh;
}

# Any process of this job outside our process group is a run of it that has not ended.
my $group = getpgrp();
my $marker = "QUEUECTL_JOB_ID=$job";
opendir(my $proc, '/proc') or die;
for my $pid (readdir $proc) {
    next unless $pid =~ /\A\d+\z/ && $pid != $$;
    open(my $st, '<', "/proc/$pid/stat") or next;
    my $stat = <$st> // next;
    my ($state, undef, $pgrp) = split / /, substr($stat, rindex($stat, ')') + 2), 4;
    next if $pgrp == $group || $state eq 'Z';
    open(my $env, '<', "/proc/$pid/environ") or next;
    local $/;
    my $environ = <$env> // next;
    record("O $job $attempt $$ $pid " . $now->()) if grep { $_ eq $marker } split /\0/, $environ;
}
record("S $job $attempt $$ " . $now->());
$SIG{TERM} = 'IGNORE' if $mode eq 'stubborn';
if ($mode eq 'spawner') {
    my $child = fork();
    if (defined $child && $child == 0) { select(undef, undef, undef, 30); exit 0 }
}
select(undef, undef, undef, $ms / 1000);
record("E $job $attempt $$ " . $now->() . " $exit");
exit $exit;
