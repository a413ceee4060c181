//! Objects of the simulated account that keel doesn't declare but routes
//! can lead to: transit gateways (with the VPCs they have attachments in),
//! VPC peering connections (with the VPCs they join, active) and virtual
//! private gateways (with the VPC they are attached to). A test seeds them
//! with [`SimProvider::seed_outside`], as another team or stack would have
//! made them; CreateRoute then checks a target against them with AWS's
//! not-found codes, and never accepts an id nobody made.

use super::SimProvider;
use super::cloud::Cloud;
use super::routing::Target;
use super::table::{Record, facts};
use crate::provider::ProviderError;
use crate::resource::Tags;
use serde::{Deserialize, Serialize};

/// The kind of an object outside keel's stacks that a route can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutsideKind {
    /// A transit gateway (`tgw-…`) with attachments in the given VPCs.
    TransitGateway,
    /// An active VPC peering connection (`pcx-…`) between the given VPCs.
    PeeringConnection,
    /// A virtual private gateway (`vgw-…`) attached to the given VPC.
    VpnGateway,
}

impl OutsideKind {
    fn prefix(self) -> &'static str {
        match self {
            OutsideKind::TransitGateway => "tgw",
            OutsideKind::PeeringConnection => "pcx",
            OutsideKind::VpnGateway => "vgw",
        }
    }

    /// AWS's error when CreateRoute names one that doesn't exist.
    fn not_found(self, id: &str) -> ProviderError {
        let (code, noun) = match self {
            OutsideKind::TransitGateway => ("InvalidTransitGatewayID.NotFound", "transitGateway"),
            OutsideKind::PeeringConnection => (
                "InvalidVpcPeeringConnectionID.NotFound",
                "vpcPeeringConnection",
            ),
            OutsideKind::VpnGateway => ("InvalidGatewayID.NotFound", "gateway"),
        };
        ProviderError::new(code, format!("The {noun} ID '{id}' does not exist"))
    }
}

/// An object outside keel's stacks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct OutsideRec {
    pub id: String,
    pub kind: OutsideKind,
    /// The VPCs it serves (attachments, the peered VPCs, the attached VPC).
    pub vpc_ids: Vec<String>,
    pub tags: Tags,
}

facts!(
    OutsideRec: "outside objects",
    not found "InvalidID.NotFound", "The ID '{id}' does not exist"
);

impl Record for OutsideRec {
    /// Not keel's: not counted among the stack's resources.
    fn built_in(&self) -> bool {
        true
    }
}

impl Cloud {
    /// Whether `target` (a transit gateway, peering connection or virtual
    /// private gateway) serves `vpc`; AWS's not-found error if it doesn't
    /// exist — and for a transit gateway without an attachment in `vpc`,
    /// which AWS reports the same way.
    pub(super) fn check_outside_target(
        &self,
        vpc: &str,
        target: &Target,
    ) -> Result<bool, ProviderError> {
        let kind = match target {
            Target::TransitGateway(_) => OutsideKind::TransitGateway,
            Target::PeeringConnection(_) => OutsideKind::PeeringConnection,
            _ => OutsideKind::VpnGateway,
        };
        let id = target.id();
        let found = self.outside.find(id).filter(|o| o.kind == kind);
        let Some(rec) = found else {
            return Err(kind.not_found(id));
        };
        let serves = rec.vpc_ids.iter().any(|v| v == vpc);
        if kind == OutsideKind::TransitGateway && !serves {
            return Err(kind.not_found(id));
        }
        Ok(serves)
    }
}

impl SimProvider {
    /// Makes object `id` of `kind` outside keel's stacks, serving `vpc_ids`
    /// (they must exist), as another team would (the id is the caller's,
    /// so a program can name it before it exists).
    ///
    /// ```
    /// use keel::provider::sim::{OutsideKind, SimProvider};
    /// let sim = SimProvider::in_memory();
    /// let err = sim.seed_outside("tgw-0123456789abcdef0", OutsideKind::TransitGateway, &["vpc-0123456789abcdef0"]);
    /// assert_eq!(err.unwrap_err().code(), "InvalidVpcID.NotFound");
    /// ```
    pub fn seed_outside(
        &self,
        id: &str,
        kind: OutsideKind,
        vpc_ids: &[&str],
    ) -> Result<(), ProviderError> {
        let api = match kind {
            OutsideKind::TransitGateway => "CreateTransitGatewayVpcAttachment",
            OutsideKind::PeeringConnection => "AcceptVpcPeeringConnection",
            OutsideKind::VpnGateway => "AttachVpnGateway",
        };
        self.api(api, |c, _| {
            let well_formed = id
                .split_once('-')
                .is_some_and(|(p, rest)| p == kind.prefix() && !rest.is_empty());
            if !well_formed || c.outside.contains_key(id) {
                return Err(ProviderError::new(
                    "InvalidParameterValue",
                    format!("`{id}` is not a free {}-… id", kind.prefix()),
                ));
            }
            for v in vpc_ids {
                c.vpcs.get(v)?;
            }
            let rec = OutsideRec {
                id: id.to_string(),
                kind,
                vpc_ids: vpc_ids.iter().map(|v| v.to_string()).collect(),
                tags: Tags::new(),
            };
            c.outside.insert(id.to_string(), rec);
            Ok(())
        })
    }
}
