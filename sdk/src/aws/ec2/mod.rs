//! EC2 networking and compute resources: VPCs, subnets, gateways, Elastic
//! IPs, route tables, routes and the main table's association, security
//! groups and launch templates.

mod elastic_ip;
mod internet_gateway;
mod launch_template;
mod main_route_table_association;
mod nat_gateway;
mod network_acl;
mod route;
mod route_table;
mod security_group;
mod subnet;
mod vpc;
mod vpc_endpoint;

pub use elastic_ip::{ElasticIp, ElasticIpOutputRefs, ElasticIpOutputs};
pub use internet_gateway::{InternetGateway, InternetGatewayOutputRefs, InternetGatewayOutputs};
pub use launch_template::{LaunchTemplate, LaunchTemplateOutputRefs, LaunchTemplateOutputs};
pub use main_route_table_association::{
    MainRouteTableAssociation, MainRouteTableAssociationOutputRefs,
    MainRouteTableAssociationOutputs,
};
pub use nat_gateway::{
    AvailabilityMode, Connectivity, NatGateway, NatGatewayOutputRefs, NatGatewayOutputs,
};
pub use network_acl::{
    AclAction, AclRule, EPHEMERAL_PORTS, NetworkAcl, NetworkAclOutputRefs, NetworkAclOutputs,
};
pub use route::{Route, RouteOutputRefs, RouteOutputs};
pub use route_table::{
    RouteEntry, RouteTable, RouteTableOutputRefs, RouteTableOutputs, RouteTarget,
};
pub use security_group::{
    Peer, Protocol, Rule, SecurityGroup, SecurityGroupOutputRefs, SecurityGroupOutputs,
};
pub use subnet::{Subnet, SubnetOutputRefs, SubnetOutputs};
pub use vpc::{Vpc, VpcOutputRefs, VpcOutputs};
pub use vpc_endpoint::{
    ECS_AGENT_SERVICES, EndpointType, GATEWAY_SERVICES, VpcEndpoint, VpcEndpointOutputRefs,
    VpcEndpointOutputs,
};
