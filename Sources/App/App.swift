import Hummingbird; import HummingbirdTLS; import HummingbirdOTP; import HummingbirdBcrypt; import Prometheus; import Yams
