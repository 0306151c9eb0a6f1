package server

import (
	"fmt"
	"net"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
)

// The broker runs inside the server because the server owns the node's
// life: the broker's files open and its hooks go into the engine config
// before engine.Open, it attaches after, and it must close before the node
// closes (Shutdown's hand-off, then the broker, then the node).

// listenRemoting binds the broker's remoting port (nil without a broker).
func (s *Server) listenRemoting() (net.Listener, error) {
	switch {
	case s.cfg.Broker == nil:
		return nil, nil
	case s.cfg.RemotingListener != nil:
		return s.cfg.RemotingListener, nil
	}
	ln, err := net.Listen("tcp", s.cfg.RemotingAddr)
	if err != nil {
		return nil, fmt.Errorf("server: broker port (listenPort) %s: %w", s.cfg.RemotingAddr, err)
	}
	return ln, nil
}

// newBroker opens the broker's own files and installs its hooks in ecfg.
func (s *Server) newBroker(ecfg *engine.Config) error {
	if s.cfg.Broker == nil {
		return nil
	}
	bc := *s.cfg.Broker
	if bc.Logger == nil {
		bc.Logger = s.log
	}
	if bc.MaxBody == 0 {
		bc.MaxBody = ecfg.MaxEntrySize
	}
	b, err := broker.New(bc)
	if err != nil {
		return fmt.Errorf("server: broker: %w", err)
	}
	b.Hooks(ecfg)
	s.broker = b
	return nil
}

// startBroker attaches the broker to the open node and serves remoting.
func (s *Server) startBroker() error {
	if s.broker == nil {
		return nil
	}
	if err := s.broker.Start(s.node, s.brokerLn); err != nil {
		return fmt.Errorf("server: broker: %w", err)
	}
	s.log.Info("broker serving RocketMQ's remoting protocol", "addr", s.brokerLn.Addr().String(),
		"broker", s.cfg.Broker.BrokerName, "cluster", s.cfg.Broker.ClusterName, "namesrv", s.cfg.Broker.NamesrvAddr)
	return nil
}

// Broker is the node's broker, nil without Config.Broker.
func (s *Server) Broker() *broker.Broker { return s.broker }

// RemotingAddr is the broker's remoting address, nil without a broker.
func (s *Server) RemotingAddr() net.Addr {
	if s.brokerLn == nil {
		return nil
	}
	return s.brokerLn.Addr()
}

// brokerDoc is the broker's part of the status, nil without a broker.
func (s *Server) brokerDoc() *proto.BrokerDoc {
	if s.broker == nil {
		return nil
	}
	bc := s.cfg.Broker
	d := &proto.BrokerDoc{Name: bc.BrokerName, Cluster: bc.ClusterName, RemotingAddr: s.brokerLn.Addr().String(),
		NamesrvAddr: bc.NamesrvAddr}
	if s.ready.Load() {
		st := s.broker.Status()
		d.Applied, d.Ready = st.Applied, st.Ready
		if st.Err != nil {
			d.Error = st.Err.Error()
		}
	}
	return d
}
