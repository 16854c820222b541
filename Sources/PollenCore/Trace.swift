import Foundation
public func _trace(_ label: String) {
    var t = timespec(); clock_gettime(CLOCK_REALTIME, &t)
    let line = "\(getpid()) \(Double(t.tv_sec % 1000) * 1000 + Double(t.tv_nsec) / 1e6) \(label)\n"
    let fd = open("/tmp/pollen-trace.log", O_WRONLY | O_APPEND | O_CREAT, 0o644); _ = line.withCString { write(fd, $0, strlen($0)) }; close(fd)
}
