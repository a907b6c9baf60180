FROM 127.0.0.1:1/team/python-base:3.11
RUN true
