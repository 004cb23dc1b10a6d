"""The local lab: real peers that `volt-admin run` starts when no production counterpart is
configured (a Kubernetes control plane with a simulated GPU fleet for Forge, a Redfish emulator
with software TPMs for Vault, an OIDC provider for sign-in), and that the tests drive too.
Nothing here is imported by the services themselves (an import contract says so): only the
embedded run command wires a lab in, and everything it starts says that it is simulated."""
