# A tiny Sidekiq app for the tests (loaded with `sidekiq -r ./app.rb`).
require "sidekiq"

# SleepJob sleeps for the given seconds and records in Redis when it started
# and when it finished, so a test can tell a finished job from a lost one.
class SleepJob
  include Sidekiq::Worker
  sidekiq_options retry: false

  def perform(seconds, id)
    Sidekiq.redis { |c| c.rpush("sidekiqapp:started", id) }
    sleep seconds
    Sidekiq.redis { |c| c.rpush("sidekiqapp:done", id) }
  end
end

# Test-only fault: SIGWINCH kills Sidekiq's heartbeat thread, leaving a
# process that is alive but no longer beats: the "stuck Sidekiq" the probe
# sidecar must restart. Sidekiq does not use WINCH. The thread is killed from
# a new thread because a trap handler may not take locks.
Signal.trap("WINCH") do
  Thread.new do
    Thread.list.each { |t| t.kill if t.name == "heartbeat" }
  end
end
