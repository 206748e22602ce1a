package nameresolution

// Create builds the resolver registered under name ("mdns", "sqlite",
// "kubernetes", "static") and version ("" or "v1" for the first).
func Create(name, version string) (Resolver, error) {
	return Registry.Create(name, version)
}

// DefaultName is the resolver daprd uses when the Configuration names none:
// kubernetes in Kubernetes mode (--mode), mDNS otherwise.
func DefaultName(mode string) string {
	if mode == "kubernetes" {
		return "kubernetes"
	}
	return "mdns"
}
