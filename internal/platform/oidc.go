package platform

// oidcPath is where gantry's OpenID Connect provider is served.
const oidcPath = "/oidc"
