// The authentication each face is given: the checks of dps-auth.ts and hub-auth.ts bound to the
// configuration and the state, so a face only asks "who is this?" and never reaches for either.
import { X509Certificate } from "crypto"
import { EmulatorConfig, hubPolicies } from "../config"
import { EmulatorState } from "../state/state"
import { DpsAuthResult, DpsClaim, DpsConnectRequest, dpsAuthenticate, dpsAuthenticateClaim } from "./dps-auth"
import { HubAuthResult, HubConnectRequest, hubAuthenticate } from "./hub-auth"

type Chain = readonly X509Certificate[]

/** DPS's checks: an MQTT CONNECT, or what an HTTPS request claims; `chain` is the TLS client certificate chain, leaf first. */
export interface DpsAuthenticator {
    connect(req: DpsConnectRequest, chain: Chain, now: Date): DpsAuthResult
    claim(claim: DpsClaim, chain: Chain, now: Date): DpsAuthResult
}

/** A hub's (or a gateway's) check of an MQTT CONNECT. */
export type HubAuthenticator = (req: HubConnectRequest, chain: Chain, now: Date) => HubAuthResult

export function dpsAuthenticator(config: EmulatorConfig, state: EmulatorState): DpsAuthenticator {
    return {
        connect: (req, chain, now) => dpsAuthenticate(req, chain, config, state.certificates, now),
        claim: (claim, chain, now) => dpsAuthenticateClaim(claim, chain, config, state.certificates, now),
    }
}

/**
 * The hubs' check; for an IoT Edge gateway, only its hub, with its host name also accepted as the
 * SAS audience (as edgeHub does).
 */
export function hubAuthenticator(config: EmulatorConfig, state: EmulatorState, gateway?: { hub: string; hostName: string }): HubAuthenticator {
    const hubs = gateway ? [gateway.hub] : config.hubs.map((h) => h.hostName)
    return (req, chain, now) =>
        hubAuthenticate(req, chain, {
            hubs,
            registry: state.hub,
            certificates: state.certificates,
            now,
            skewSec: config.sasSkewSec,
            gatewayHostName: gateway?.hostName,
            policiesOf: (hub) => hubPolicies(config, hub),
        })
}
