#pragma once
// What the Boost.Beast translation units of the Kubernetes client (io/kubernetes_driver.cpp)
// and of its test stand-in (tests/fakes/fake_pods_api.cpp) both spell: the short names of
// Asio / Beast / Asio-SSL, and closing a connection's socket. Header-only, so the fake uses it
// without linking the client. Include it only in a .cpp that already speaks Beast (it keeps
// Boost out of nothing), and bring the names in with `using namespace iota::io::beast_net;`
// inside that file's anonymous namespace.
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace boost::asio::ssl {}
namespace boost::beast::http {}

namespace iota::io::beast_net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// Shuts both directions down and closes; errors (never connected, already closed, reset by
// the peer) are ignored: the connection is being dropped either way. Pending operations on
// the socket complete with operation_aborted.
inline void shutdown_and_close(tcp::socket& socket) {
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace iota::io::beast_net
