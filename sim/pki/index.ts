export * from "./certificates"
export * from "./test-pki"
export * from "./edge-pki"
