//! IPv4 CIDR rules as AWS applies them: parsing (the address must be the
//! network address), the prefix lengths AWS accepts for VPCs and subnets,
//! containment and overlap. Shared by declaration checks and the simulator.

use ipnet::Ipv4Net;

/// The smallest prefix length AWS accepts for a VPC or subnet (/16).
pub const MIN_PREFIX: u8 = 16;
/// The largest prefix length AWS accepts for a VPC or subnet (/28).
pub const MAX_PREFIX: u8 = 28;

/// Why a string is not a CIDR block AWS accepts.
///
/// ```
/// let e = keel::cidr::parse("10.0.1.0/16").unwrap_err();
/// assert_eq!(e.to_string(), "`10.0.1.0/16` has host bits set; the network address is `10.0.0.0/16`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Not `a.b.c.d/n`.
    #[error("`{0}` is not a valid IPv4 CIDR block (expected a.b.c.d/n)")]
    Malformed(String),
    /// The address is not the network address.
    #[error("`{given}` has host bits set; the network address is `{network}`")]
    HostBits {
        /// The block as given.
        given: String,
        /// The block it was probably meant to be.
        network: Ipv4Net,
    },
    /// A VPC or subnet block outside /16–/28.
    #[error("`{given}` has prefix length /{prefix}; AWS accepts /{MIN_PREFIX} to /{MAX_PREFIX}")]
    Prefix {
        /// The block as given.
        given: String,
        /// Its prefix length.
        prefix: u8,
    },
}

/// Parses `s` as an IPv4 CIDR block whose address is its network address.
///
/// ```
/// use keel::cidr::parse;
/// assert!(parse("10.0.0.0/16").is_ok());
/// assert!(parse("10.0.0.0/33").is_err());
/// assert!(parse("10.0.1.0/16").unwrap_err().to_string().contains("10.0.0.0/16"));
/// ```
pub fn parse(s: &str) -> Result<Ipv4Net, CidrError> {
    let net: Ipv4Net = s
        .trim()
        .parse()
        .map_err(|_| CidrError::Malformed(s.to_string()))?;
    if net.addr() != net.network() {
        return Err(CidrError::HostBits {
            given: s.to_string(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

/// Parses `s` and checks AWS's /16–/28 rule for VPC and subnet blocks.
///
/// ```
/// use keel::cidr::parse_block;
/// assert!(parse_block("10.0.0.0/16").is_ok());
/// assert!(parse_block("10.0.0.0/8").unwrap_err().to_string().contains("/16"));
/// ```
pub fn parse_block(s: &str) -> Result<Ipv4Net, CidrError> {
    let net = parse(s)?;
    if !(MIN_PREFIX..=MAX_PREFIX).contains(&net.prefix_len()) {
        return Err(CidrError::Prefix {
            given: s.to_string(),
            prefix: net.prefix_len(),
        });
    }
    Ok(net)
}

/// Whether two blocks share any address.
///
/// ```
/// use keel::cidr::{overlaps, parse};
/// assert!(overlaps(&parse("10.0.0.0/16").unwrap(), &parse("10.0.3.0/24").unwrap()));
/// assert!(!overlaps(&parse("10.0.1.0/24").unwrap(), &parse("10.0.2.0/24").unwrap()));
/// ```
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_aws_ranges_and_rejects_the_rest() {
        for ok in ["10.0.0.0/16", "172.31.0.0/20", "192.168.1.0/28"] {
            assert!(parse_block(ok).is_ok(), "{ok}");
        }
        for bad in [
            "10.0.0.0/15",
            "10.0.0.0/29",
            "10.0.0.0",
            "10.0.0.256/24",
            "ten/16",
            "",
        ] {
            assert!(parse_block(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = parse("10.0.0.0/16").unwrap();
        let a = parse("10.0.1.0/24").unwrap();
        let b = parse("10.0.1.128/25").unwrap();
        let outside = parse("10.1.0.0/24").unwrap();
        assert!(vpc.contains(&a) && !vpc.contains(&outside));
        assert!(overlaps(&a, &b) && overlaps(&b, &a));
        assert!(!overlaps(&a, &outside));
    }
}
