export * from "./certificates"
export * from "./test-pki"
