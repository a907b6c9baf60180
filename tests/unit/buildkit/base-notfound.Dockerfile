FROM 127.0.0.1:5999/team/python-base:3.11
RUN true
