// The thread a virtio device's queue work runs on: an epoll loop over the
// queues' kick eventfds and the device's own fds (tap, io_uring completions,
// sockets), each with a callback. What goes wrong on this thread (epoll fails,
// a callback throws) is reported to a FailureSink, never dropped and never
// allowed to escape the thread.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/fd.h"
#include "platform/failure.h"
#include "virtio/virtio_device.h"

namespace khyve {

class DeviceWorker : public VirtioWorker {
public:
    // epoll_wait(2)'s signature; tests inject failures through it.
    using WaitFn = int (*)(int epfd, epoll_event* events, int max, int timeout);

    // name: for messages ("virtio-blk@2:0"). after_callback runs on the worker
    // after each callback; true stops the loop. on_failure gets one line.
    DeviceWorker(std::string name, std::function<bool()> after_callback, FailureSink on_failure,
                 WaitFn wait = ::epoll_wait);
    ~DeviceWorker() override;  // stop(); never throws

    // Throws Error when epoll refuses fd (a regular file, a closed fd).
    void add_fd(int fd, std::function<void()> on_ready) override;
    void remove_fd(int fd) override;

    void start();
    // Any thread: the loop ends after the current callback.
    void halt() noexcept;
    // Another thread: halt and join.
    void stop() noexcept;

private:
    void run();
    void loop();

    std::string name_;
    std::function<bool()> after_;
    FailureSink on_failure_;
    WaitFn wait_;
    Fd ep_, stop_;
    std::mutex mu_;
    std::map<int, std::shared_ptr<std::function<void()>>> cbs_;
    std::atomic<bool> halted_{false};
    std::thread thread_;
};

}  // namespace khyve
